"""A real agent under a libvirtd restart and a guest destroyed behind its back.

The agent (the ``kvmfleet-agent`` process, connected to a private libvirtd it
shares with no one: tests/functional/private_libvirtd.py) runs a real QEMU
guest booted through the scheduler.  Restarting libvirtd must not stop the
agent nor lose anything: the agent reconnects within seconds, the host stays
up and the guest stays ACTIVE with its claims.  A ``virsh destroy`` of the
guest reaches the scheduler as STOPPED by libvirt's lifecycle event, within
a second or two, a guest whose QEMU is killed as ERROR ("guest crashed"); the
measured latencies are printed (``-s``).  KVMFLEET_TEST_LIFECYCLE_EVENTS=0 runs
the agent with ``[agent] lifecycle_events = false`` to measure the old way.  Both daemons
refuse a schema-invalid domain (VIR_DOMAIN_DEFINE_VALIDATE).
"""

import json
import os
import pathlib
import shutil
import signal
import subprocess
import time
import uuid as uuidlib

import pytest

from agent.exceptions import LibvirtError
from agent.libvirt_conn import LibvirtConnection
from tests.conftest import missing_service
from tests.functional.bus_stack import BIN, Stack
from tests.functional.private_libvirtd import PrivateLibvirtd

pytestmark = [pytest.mark.libvirt, pytest.mark.rabbit]

IMAGES = pathlib.Path('/var/lib/kvmfleet/images')
STATE = pathlib.Path('/var/lib/kvmfleet')
HOLD_S = 900       # the guest stays up this long (tools/build-test-image.sh: kvmfleet_hold)
EVENT_LATENCY_LIMIT_S = 2.0
RECONNECT_LIMIT_S = 10.0
VIR_ERR_XML_INVALID_SCHEMA = 92

AGENT_CONFIG = """[libvirt]
connection_uri = {uri}
virt_type = qemu
reconnect_interval_min = 0.2
reconnect_interval_max = 2
[compute]
cpu_dedicated_set = 1
cpu_shared_set = 0
[agent]
host = {host}
default_image = hold
lifecycle_events = {events}
domain_sync_interval = {sync}
[DEFAULT]
instances_path = {instances}
images_path = {images}
"""


def hold_image(images):
    """The test guest, told to stay up instead of powering off after its checks."""
    image = json.loads((IMAGES / 'test-guest' / 'image.json').read_text())
    image['cmdline'] = f"{image['cmdline']} kvmfleet_hold={HOLD_S}"
    for key in ('kernel', 'initrd'):
        image[key] = str(IMAGES / 'test-guest' / pathlib.Path(image[key]).name)
    (images / 'hold').mkdir(parents=True)
    (images / 'hold' / 'image.json').write_text(json.dumps(image))


def lifecycle_events_on():
    return os.environ.get('KVMFLEET_TEST_LIFECYCLE_EVENTS', '1') != '0'


@pytest.fixture(scope='module')
def restartable(rabbit_url, tmp_path_factory):
    if not (IMAGES / 'test-guest' / 'image.json').is_file():
        missing_service('test image missing: run tools/build-test-image.sh')
    if os.geteuid() != 0 or not shutil.which('unshare') or not shutil.which('tini'):
        missing_service('a private libvirtd needs root, unshare and tini')
    host = f"restart-{uuidlib.uuid4().hex[:8]}"
    top = STATE / f"test-{host}"          # QEMU (libvirt-qemu) must reach the console log
    (top / 'instances').mkdir(parents=True)
    os.chmod(top, 0o755)
    os.chmod(top / 'instances', 0o755)
    hold_image(top / 'images')
    daemon = PrivateLibvirtd(top / 'libvirtd')
    try:
        daemon.start()
    except RuntimeError as exc:
        shutil.rmtree(top, ignore_errors=True)
        missing_service(str(exc))
    workdir = tmp_path_factory.mktemp('restart')
    stack = Stack(workdir, [], report_interval=2, extra_config=AGENT_CONFIG.format(
        uri=daemon.uri, host=host, instances=top / 'instances', images=top / 'images',
        events=str(lifecycle_events_on()).lower(),
        # events on: a sync every second races with the events (it must not lose them);
        # off: the default, so the latency measured is the periodic report's
        sync=1 if lifecycle_events_on() else 60))
    stack.create_vhost()
    stack.enrol(host)            # the real agent signs its reports with the stack's agent key
    agent = None
    try:
        stack.start_scheduler()
        agent = subprocess.Popen([str(BIN / 'kvmfleet-agent'), '--config-file', str(stack.config),
                                  f"--log-file={workdir / 'agent.log'}"],
                                 stdout=subprocess.DEVNULL,
                                 stderr=open(workdir / 'agent.err', 'a'))
        stack.wait_hosts_up(count=1, timeout=90)
        yield stack, host, daemon, agent, workdir / 'agent.log'
    finally:
        if agent is not None:
            agent.terminate()
            agent.wait(60)
        stack.close()
        remove_domains(daemon)
        daemon.stop()
        shutil.rmtree(top, ignore_errors=True)


def remove_domains(daemon):
    conn = LibvirtConnection(daemon.uri)
    try:
        for name, _uuid, _xml, _state in conn.list_domains():
            conn.destroy_domain(name)
            conn.undefine_domain(name)
    except Exception:   # the daemon is gone: nothing of ours to remove
        pass
    finally:
        conn.close()


def boot(stack, name, log):
    """Boot through the CLI; returns once the agent's own build has finished too.

    (A periodic report can show the domain running, and the scheduler call it ACTIVE,
    while libvirt's start has not returned yet: the test must not touch it before.)
    """
    result = subprocess.run(
        [str(BIN / 'kvmfleet'), '--config-file', str(stack.config), 'boot', name,
         '--vcpus', '1', '--memory', '256', '--property', 'hw:cpu_policy=dedicated',
         '--image', 'hold', '--wait', '--format', 'json'],
        capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    [instance] = json.loads(result.stdout)      # the CLI prints the boot's instances
    assert instance['state'] == 'ACTIVE'
    wait_for(lambda: f"Instance {instance['uuid']} running on" in log.read_text(), 60, 0.05,
             log)
    return instance


def delete(stack, name):
    result = subprocess.run([str(BIN / 'kvmfleet'), '--config-file', str(stack.config),
                             'delete', name, '--wait'], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr


def wait_for(predicate, timeout, step=0.01, log=None):
    """Seconds until ``predicate()`` is true; AssertionError after ``timeout``."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            tail = log.read_text()[-3000:] if log else ''
            raise AssertionError(f"not within {timeout}s; agent log ends:\n{tail}")
        time.sleep(step)
    return time.monotonic() - started


def host_entry(stack, host):
    [entry] = [h for h in stack.api().hosts()['hosts'] if h['name'] == host]
    return entry


def held_pcpus(stack, host):
    entry = host_entry(stack, host)
    return entry['up'], sum(c['pcpus']['used'] for c in entry['cells'])


def test_libvirtd_restart_keeps_host_guest_and_claims(restartable):
    stack, host, daemon, agent, log = restartable
    instance = boot(stack, 'survivor', log)
    try:
        check_restart(stack, host, daemon, agent, log, instance)
    finally:
        delete(stack, 'survivor')      # frees the one dedicated pCPU for the next test


def check_restart(stack, host, daemon, agent, log, instance):
    domain = f"kvmfleet-{instance['uuid']}"
    assert held_pcpus(stack, host) == (True, 1)
    down_s = daemon.restart()
    reconnected = wait_for(lambda: 'Reconnected to' in log.read_text(), RECONNECT_LIMIT_S,
                           0.05, log)
    [line] = [x for x in log.read_text().splitlines() if 'Reconnected to' in x]
    print(f"\nlibvirtd down {down_s:.2f} s; agent reconnected {reconnected:.2f} s after it "
          f"answered again; agent log: {line.split(' Reconnected ')[-1]}")
    assert agent.poll() is None
    back = time.time()
    wait_for(lambda: (host_entry(stack, host)['last_heartbeat'] or 0) > back,
             2 * stack.report_interval + 5, 0.1, log)      # a report after reconnecting
    time.sleep(stack.report_interval + 1)         # and the next one: nothing changes
    after = stack.api().show(instance['uuid'])
    assert (after['state'], after['host']) == ('ACTIVE', host)
    assert after['assignment'] == instance['assignment']
    assert held_pcpus(stack, host) == (True, 1)
    assert LibvirtConnection(daemon.uri).domain_state(domain) == 'running'
    assert stack.api().list(state='ERROR')['instances'] == []
    assert 'Traceback' not in log.read_text()
    # the callbacks were registered again on the new connection: events still arrive
    LibvirtConnection(daemon.uri).destroy_domain(domain)
    latency = wait_for(lambda: stack.api().show(instance['uuid'])['state'] == 'STOPPED',
                       EVENT_LATENCY_LIMIT_S if lifecycle_events_on() else 60, log=log)
    print(f"destroy after the restart -> STOPPED: {latency:.3f} s")


def test_a_guest_destroyed_behind_the_agent_is_stopped_by_event(restartable):
    stack, _host, daemon, _agent, log = restartable
    instance = boot(stack, 'victim', log)
    try:
        check_destroy(stack, daemon, log, instance)
    finally:
        delete(stack, 'victim')


def check_destroy(stack, daemon, log, instance):
    api = stack.api()
    conn = LibvirtConnection(daemon.uri)
    conn.destroy_domain(f"kvmfleet-{instance['uuid']}")       # as virsh destroy does
    conn.close()
    limit = EVENT_LATENCY_LIMIT_S if lifecycle_events_on() else 60
    latency = wait_for(lambda: api.show(instance['uuid'])['state'] == 'STOPPED', limit,
                       log=log)
    mode = 'lifecycle event' if lifecycle_events_on() else 'periodic report (events off)'
    print(f"\ndestroy -> STOPPED in the scheduler: {latency:.3f} s by {mode}")
    shown = api.show(instance['uuid'])
    if lifecycle_events_on():
        assert 'outside kvmfleet' in (shown['reason'] or '')
    assert shown['assignment'] == instance['assignment']     # a stopped guest keeps its claim
    assert 'Traceback' not in log.read_text()


SCHEMA_INVALID = ("<domain type='qemu'><name>kvmfleet-schema-invalid</name>"
                  "<memory unit='MiB'>64</memory><os><type arch='x86_64'>hvm</type></os>"
                  "<no-such-element/></domain>")


def test_qemu_refuses_a_schema_invalid_domain_before_defining_it(restartable):
    _stack, _host, daemon, _agent, _log = restartable
    for uri in (daemon.uri, 'qemu:///system'):       # the private and the shared daemon
        conn = LibvirtConnection(uri)
        try:
            with pytest.raises(LibvirtError) as caught:
                conn.define_domain(SCHEMA_INVALID)
            assert caught.value.code == VIR_ERR_XML_INVALID_SCHEMA, caught.value
            assert 'no-such-element' in str(caught.value)
            assert conn.domain_state('kvmfleet-schema-invalid') is None
        finally:
            conn.close()


def test_a_guest_whose_qemu_dies_is_error_by_event(restartable):
    stack, _host, daemon, _agent, log = restartable
    instance = boot(stack, 'crasher', log)
    try:
        domain = f"kvmfleet-{instance['uuid']}"
        pid = int((daemon.root / 'run' / 'qemu' / f"{domain}.pid").read_text().split()[0])
        os.kill(pid, signal.SIGKILL)         # the QEMU of this test's own guest
        api = stack.api()
        limit = EVENT_LATENCY_LIMIT_S if lifecycle_events_on() else 60
        latency = wait_for(lambda: api.show(instance['uuid'])['state'] != 'ACTIVE', limit,
                           log=log)
        shown = api.show(instance['uuid'])
        print(f"\nQEMU killed -> {shown['state']} in the scheduler: {latency:.3f} s "
              f"({shown['reason']})")
        if lifecycle_events_on():
            assert shown['state'] == 'ERROR' and 'guest crashed' in shown['reason']
        assert shown['assignment'] == instance['assignment']
    finally:
        delete(stack, 'crasher')
