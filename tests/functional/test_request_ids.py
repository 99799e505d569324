"""One boot followed by its request id: the kvmfleet CLI -> the scheduler process -> an agent
process, on the real RabbitMQ, each service logging to its own file through oslo.log.
"""

import json
import re
import subprocess
import time

import pytest

from tests import busfleet
from tests.functional.bus_stack import BIN, Stack, environment_with_venv
from wire import context

pytestmark = pytest.mark.rabbit


@pytest.fixture
def services(rabbit_url, tmp_path):
    stack = Stack(tmp_path, busfleet.fleet(2, prefix='traced'))
    agent_conf = tmp_path / 'agent.conf'     # later files override: its own log file
    agent_conf.write_text(f"[DEFAULT]\nlog_file = {tmp_path / 'agent.log'}\n")
    stack.create_vhost()
    agent = None
    try:
        stack.start_scheduler()
        stack.wait_scheduler()
        agent = subprocess.Popen(
            [str(BIN / 'kvmfleet-agent'), '--config-file', str(stack.config), '--config-file',
             str(agent_conf), '--simulate-fleet', str(stack.fleet_path)],
            stdout=subprocess.DEVNULL, stderr=open(tmp_path / 'agent.err', 'a'))
        stack.wait_hosts_up()
        yield stack, tmp_path / 'scheduler.log', tmp_path / 'agent.log'
    finally:
        if agent is not None:
            agent.terminate()
            agent.wait(30)
        stack.close()


def kvmfleet(stack, *args):
    return subprocess.run([str(BIN / 'kvmfleet'), '--config-file', str(stack.config), *args],
                          capture_output=True, text=True, timeout=120,
                          env=environment_with_venv())


def lines_with(path, needle, timeout=20):
    """The lines of ``path`` holding ``needle``, waiting for at least one."""
    deadline = time.monotonic() + timeout
    while True:
        found = [line for line in path.read_text().splitlines() if needle in line]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def test_one_boots_request_id_in_the_scheduler_and_the_agent_logs(services):
    stack, scheduler_log, agent_log = services
    result = kvmfleet(stack, '-v', 'boot', 'traced-vm', '--vcpus', '1', '--memory', '512',
                      '--property', 'hw:cpu_policy=dedicated', '--wait', '-f', 'json')
    assert result.returncode == 0, result.stderr
    [instance] = json.loads(result.stdout)
    assert instance['state'] == 'ACTIVE'
    [printed] = [line for line in result.stderr.splitlines() if 'request id' in line]
    request_id = printed.rsplit(' ', 1)[1]
    assert context.valid_request_id(request_id)

    tagged = f"[instance: {instance['uuid']}]"
    at_scheduler = lines_with(scheduler_log, request_id)
    assert any(tagged in line and f"Build on {instance['host']}" in line
               for line in at_scheduler), at_scheduler
    at_agent = lines_with(agent_log, request_id)
    assert any(tagged in line and 'running on' in line for line in at_agent), at_agent
    # every line the agent logged about this build carries the request id
    built = lines_with(agent_log, f"Instance {instance['uuid']} running")
    assert built and all(request_id in line for line in built)
    # the --wait polls are requests of their own: same CLI run, one id for the command
    assert not re.search(r'req-[0-9a-f-]{36}', printed.replace(request_id, ''))


def test_the_request_id_is_printed_with_a_failure(services):
    stack, scheduler_log, _ = services
    result = kvmfleet(stack, 'boot', 'huge', '--vcpus', '512', '--memory', '512')
    assert result.returncode == 1
    request_line, error_line = result.stderr.strip().splitlines()[-2:]
    assert error_line.startswith('kvmfleet: error: NoValidHost')
    request_id = request_line.rsplit(' ', 1)[1]
    assert request_line.startswith('kvmfleet: request id: ') and context.valid_request_id(
        request_id)
    assert any('NoValidHost' in line or 'rejected' in line
               for line in lines_with(scheduler_log, request_id)), 'no scheduler line'
