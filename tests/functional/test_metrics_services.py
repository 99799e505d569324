"""/metrics of the real services: ``kvmfleet-scheduler`` and ``kvmfleet-agent
--simulate-fleet`` processes on the real RabbitMQ (private vhost, signed bus), a boot
through the bus, both scraped over HTTP; and with the default configuration (each service
alone on the in-memory bus) no port at all.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests import busfleet
from tests.functional.bus_stack import Stack
from wire import key_commands

pytestmark = pytest.mark.rabbit
HOSTS = busfleet.fleet(2, prefix='metrics')


def free_port():
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


def listening_ports(pid):
    """TCP ports process ``pid`` listens on (its socket inodes in /proc/net/tcp*)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith('socket:['):
            inodes.add(target[8:-1])
    ports = set()
    for table in ('/proc/net/tcp', '/proc/net/tcp6'):
        with open(table) as lines:
            for line in list(lines)[1:]:
                fields = line.split()
                if fields[3] == '0A' and fields[9] in inodes:     # 0A: LISTEN
                    ports.add(int(fields[1].rsplit(':', 1)[1], 16))
    return ports


def scrape(port):
    """{(sample name, frozenset(labels)): value} of http://127.0.0.1:port/metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def sample(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0)


SCHEDULER_PORT, AGENT_PORT = free_port(), free_port()
ENABLED = (f"[metrics]\nenabled = true\nscheduler_port = {SCHEDULER_PORT}\n"
           f"agent_port = {AGENT_PORT}\n")


class Services:
    """The stack's scheduler process and a ``kvmfleet-agent --simulate-fleet`` process."""

    def __init__(self, workdir, extra_config=''):
        self.stack = Stack(workdir, HOSTS, report_interval=1, extra_config=extra_config)
        self.agent = None

    def start(self):
        self.stack.create_vhost()
        self.stack.start_scheduler()
        self.agent = subprocess.Popen(
            [sys.executable, '-m', 'agent.cmd.service', '--config-file',
             str(self.stack.config), f"--log-file={self.stack.workdir / 'agent.log'}",
             '--simulate-fleet', str(self.stack.fleet_path)],
            stdout=subprocess.DEVNULL, stderr=open(self.stack.workdir / 'agent.err', 'w'))
        self.stack.wait_hosts_up(len(HOSTS))
        return self

    def close(self):
        if self.agent is not None and self.agent.poll() is None:
            self.agent.send_signal(signal.SIGTERM)
            try:
                self.agent.wait(30)
            except subprocess.TimeoutExpired:
                self.agent.kill()
                self.agent.wait()
        self.stack.close()


@pytest.fixture
def services(rabbit_url, tmp_path):
    started = Services(tmp_path, ENABLED)
    try:
        yield started.start()
    finally:
        started.close()


def wait_for(condition, timeout=20):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, 'condition not met in time'
        time.sleep(0.2)


def test_a_boot_moves_the_scheduler_and_agent_metrics(services):
    stack = services.stack
    assert listening_ports(stack.scheduler.pid) == {SCHEDULER_PORT}
    assert listening_ports(services.agent.pid) == {AGENT_PORT}
    before = scrape(SCHEDULER_PORT)
    assert sample(before, 'kvmfleet_scheduler_hosts', state='up') == 2

    uuid = stack.api().boot(busfleet.PINNED)['instances'][0]['uuid']
    assert stack.wait_settled([uuid])[uuid]['state'] == 'ACTIVE'
    instance = stack.api().show(uuid)

    after = scrape(SCHEDULER_PORT)
    assert sample(after, 'kvmfleet_scheduler_decisions_total', outcome='placed') == 1
    assert sample(after, 'kvmfleet_scheduler_claims_total', result='claimed') == 1
    assert sample(after, 'kvmfleet_scheduler_rpc_calls_total', method='boot', code='ok') == 1
    assert sample(after, 'kvmfleet_scheduler_rpc_calls_total', method='report_host',
                  code='ok') >= 2
    assert sample(after, 'kvmfleet_scheduler_fleet_free_pcpus') == \
        sample(before, 'kvmfleet_scheduler_fleet_free_pcpus') - 2
    [cell] = {c['host_cell'] for c in instance['assignment']['cells']}
    where = {'host': instance['host'], 'cell': str(cell)}
    assert sample(after, 'kvmfleet_scheduler_cell_pcpus', **where) - \
        sample(after, 'kvmfleet_scheduler_cell_free_pcpus', **where) == 2

    agent = scrape(AGENT_PORT)
    assert sample(agent, 'kvmfleet_agent_builds_total', result='ok', reason='none') == 1
    assert sample(agent, 'kvmfleet_agent_build_seconds_count') == 1
    assert sample(agent, 'kvmfleet_agent_rpc_calls_total', method='build_instance',
                  code='ok') == 1
    wait_for(lambda: sample(scrape(AGENT_PORT), 'kvmfleet_agent_domains', state='running') == 1)


def in_memory(workdir, command, extra_config=''):
    """``command`` (scheduler or agent module) on the in-memory bus; its Popen."""
    keys = key_commands.provision(workdir / 'keys', [h['name'] for h in HOSTS])
    (workdir / 'fleet.json').write_text(json.dumps({'version': 1, 'hosts': HOSTS}))
    config = workdir / f"{command}.conf"
    config.write_text('[DEFAULT]\ntransport_url = kombu+memory:////\n'
                      f'log_file = {workdir}/{command}.log\n'
                      f'[database]\nconnection = sqlite:///{workdir}/s.sqlite\n'
                      f'sync_on_startup = true\n[agent]\nsimulation_path = {workdir}/sim\n'
                      + key_commands.config_section(keys) + extra_config)
    extra = ['--simulate-fleet', str(workdir / 'fleet.json')] if 'agent' in command else []
    return subprocess.Popen([sys.executable, '-m', command, '--config-file', str(config),
                             *extra], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)


def start_in_memory(workdir, command):
    """``command`` with the default [metrics], once it logged that it is ready."""
    process = in_memory(workdir, command)
    log = workdir / f"{command}.log"
    wait_for(lambda: process.poll() is not None or
             (log.exists() and ' ready: ' in log.read_text()), timeout=60)
    assert process.poll() is None, log.read_text()
    return process


@pytest.mark.parametrize('command', ['scheduler.cmd.service', 'agent.cmd.service'])
def test_metrics_are_off_by_default_and_no_port_is_opened(tmp_path, command):
    process = start_in_memory(tmp_path, command)
    try:
        assert listening_ports(process.pid) == set()
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0


@pytest.mark.parametrize('command,service', [('scheduler.cmd.service', 'scheduler'),
                                             ('agent.cmd.service', 'agent')])
def test_a_taken_metrics_port_stops_the_service_at_start_with_one_line(tmp_path, command,
                                                                       service):
    with socket.socket() as taken:
        taken.bind(('127.0.0.1', 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = in_memory(tmp_path, command,
                            f"[metrics]\nenabled = true\n{service}_port = {port}\n")
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 1
    assert f"[metrics] cannot listen on 127.0.0.1:{port}: Address already in use" in stderr
    assert 'Traceback' not in stderr
