"""End to end on this machine: the kvmfleet CLI -> scheduler -> real agent -> libvirtd + QEMU.

``kvmfleet boot --wait`` of the test guest (tools/build-test-image.sh) with a
pinned vCPU, its serial console through ``console-log``, and ``delete``
freeing everything; plus the CLI's exit codes for scripts.
"""

import json
import os
import pathlib
import shutil
import subprocess
import time
import uuid as uuidlib

import pytest

from agent.libvirt_conn import LibvirtConnection
from tests.conftest import missing_service
from tests.functional.bus_stack import BIN, Stack

pytestmark = [pytest.mark.libvirt, pytest.mark.rabbit]

IMAGES = pathlib.Path('/var/lib/kvmfleet/images')
STATE = pathlib.Path('/var/lib/kvmfleet')
CONSOLE_TIMEOUT_S = 60

AGENT_CONFIG = """[libvirt]
connection_uri = qemu:///system
virt_type = {virt_type}
[compute]
cpu_dedicated_set = 1
cpu_shared_set = 0
[agent]
host = {host}
default_image = test-guest
[DEFAULT]
instances_path = {instances}
images_path = {images}
"""


def kvmfleet(stack, *args, timeout=120):
    result = subprocess.run([str(BIN / 'kvmfleet'), '--config-file', str(stack.config), *args],
                            capture_output=True, text=True, timeout=timeout)
    return result.returncode, result.stdout, result.stderr


@pytest.fixture(scope='module')
def e2e(rabbit_url, tmp_path_factory):
    try:
        LibvirtConnection('qemu:///system').hostname()
    except Exception as exc:
        missing_service(f"libvirtd qemu:///system: {exc}")
    if not (IMAGES / 'test-guest' / 'image.json').is_file():
        missing_service('test image missing: run tools/build-test-image.sh')
    if (os.cpu_count() or 1) < 2:
        missing_service('needs 2 host CPUs (one shared, one dedicated)')
    host = f"e2e-{uuidlib.uuid4().hex[:8]}"
    instances = STATE / f"test-{host}"
    instances.mkdir(parents=True, mode=0o755)
    os.chmod(instances, 0o755)
    stack = Stack(tmp_path_factory.mktemp('e2e'), [], report_interval=2, extra_config=(
        AGENT_CONFIG.format(virt_type=os.environ.get('KVMFLEET_TEST_VIRT_TYPE', 'qemu'),
                            host=host, instances=instances, images=IMAGES)))
    stack.create_vhost()
    agent = None
    try:
        stack.start_scheduler()
        agent = subprocess.Popen([str(BIN / 'kvmfleet-agent'), '--config-file', str(stack.config)],
                                 stdout=subprocess.DEVNULL,
                                 stderr=open(stack.workdir / 'agent.err', 'a'))
        stack.wait_hosts_up(count=1, timeout=90)
        yield stack, host, instances
    finally:
        if agent is not None:
            agent.terminate()
            agent.wait(60)
        stack.close()
        shutil.rmtree(instances, ignore_errors=True)


def wait_console(stack, name, needle):
    deadline, text = time.monotonic() + CONSOLE_TIMEOUT_S, ''
    while time.monotonic() < deadline:
        code, text, _ = kvmfleet(stack, 'console-log', name)
        if code == 0 and needle in text:
            return text
        time.sleep(1)
    raise AssertionError(f"{needle!r} not on the console after {CONSOLE_TIMEOUT_S}s: "
                         f"{text[-1500:]}")


def used_pcpus(stack):
    code, out, _ = kvmfleet(stack, 'hosts', '--format', 'json')
    assert code == 0
    return sum(c['pcpus']['used'] for h in json.loads(out) for c in h['cells'])


def test_boot_wait_console_log_and_delete_on_real_qemu(e2e):
    stack, host, instances = e2e
    code, out, err = kvmfleet(stack, 'boot', 'e2e-guest', '--vcpus', '1', '--memory', '256',
                              '--property', 'hw:cpu_policy=dedicated', '--image', 'test-guest',
                              '--wait', '--long', '--format', 'json')
    assert code == 0, err
    assert 'BUILDING' in err and 'ACTIVE' in err            # progress while waiting
    [instance] = json.loads(out)
    assert (instance['state'], instance['host']) == ('ACTIVE', host)
    pinning = instance['assignment']['cells'][0]['pinning']
    assert pinning == {'0': 1}                              # the one dedicated pCPU
    assert used_pcpus(stack) == 1
    console = wait_console(stack, 'e2e-guest', 'KVMFLEET done')
    assert 'KVMFLEET nproc=1' in console
    code, out, err = kvmfleet(stack, 'delete', 'e2e-guest', '--wait', '--format', 'json')
    assert code == 0, err
    assert json.loads(out)['state'] == 'DELETED'
    assert used_pcpus(stack) == 0
    conn = LibvirtConnection('qemu:///system')
    assert conn.domain_state(f"kvmfleet-{instance['uuid']}") is None
    assert not (instances / instance['uuid']).exists()


@pytest.mark.parametrize('args,code,message', [
    (('boot', 'huge', '--vcpus', '64', '--memory', '256', '--property',
      'hw:cpu_policy=dedicated'), 1, 'NoValidHost'),
    (('boot', 'bad', '--vcpus', '1', '--memory', '256', '--property',
      'hw:cpu_policy=sideways'), 2, 'InvalidInput'),
    (('boot', 'both', '--flavor', 'm1.small', '--vcpus', '1'), 2, 'InvalidInput'),
    (('show', 'no-such-instance'), 1, 'NotFound'),
])
def test_cli_exit_codes_and_one_line_errors(e2e, args, code, message):
    stack, _, _ = e2e
    got, out, err = kvmfleet(stack, *args)
    assert got == code, err
    last = err.strip().splitlines()[-1]
    assert last.startswith('kvmfleet: error: ') and message in last


def test_unreachable_bus_exits_3_fast(tmp_path):
    config = tmp_path / 'down.conf'
    config.write_text('[DEFAULT]\ntransport_url = rabbit://guest:guest@127.0.0.1:1/\n')
    started = time.monotonic()
    result = subprocess.run([str(BIN / 'kvmfleet'), '--config-file', str(config), 'list'],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 3 and 'BusUnreachable' in result.stderr
    assert time.monotonic() - started < 20
