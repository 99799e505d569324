"""AgentManager on simulated hosts (libvirt test driver) over an in-process bus.

The real AgentAPI client talks to a MultiHostServer (several hosts on one
connection) on kombu+memory; a recording scheduler stands in for the
scheduler's instance_update/report_host.
"""

import dataclasses
import json
import os
import threading
import time
import uuid as uuidlib

import pytest
from oslo_config import cfg

from agent import simulated
from agent.driver import LaunchResult
from scheduler.engine import build_engine
from scheduler.engine.fleet import FleetView
from scheduler.specs import parse_request
from tests import busfleet
from wire import agent_rpcapi, rpc
from wire.topology import HostTopology


class RecordingScheduler:
    def __init__(self):
        self.updates = []
        self.reports = []
        self.changed = threading.Condition()

    def instance_update(self, instance, host, state, reason=None):
        with self.changed:
            self.updates.append((instance, host, state, reason))
            self.changed.notify_all()

    def report_host(self, host, instances, taken=None, listed=None):
        self.reports.append((host['name'], instances))
        self.last_host = host
        if taken is not None:     # a scheduler answers every report
            taken.set()

    def migration_update(self, migration, host, status, reason=None):
        with self.changed:
            self.updates.append((migration, host, status, reason))
            self.changed.notify_all()

    stale = ()      # what placed_elsewhere answers

    def placed_elsewhere(self, host, instances, timeout=None):
        return {'instances': [u for u in instances if u in self.stale]}

    def wait_update(self, instance, timeout=10):
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                found = [u for u in self.updates if u[0] == instance]
                if found:
                    return found[-1]
                if not self.changed.wait(max(0, deadline - time.monotonic())):
                    raise AssertionError(f"no instance_update for {instance}")


HOSTS = busfleet.fleet(3, prefix='sim')
U1, U2, U3, U4, U5, U6 = (f"00000000-0000-4000-8000-00000000000{i}" for i in range(1, 7))
POWERED = '00000000-0000-4000-8000-000000000070'    # power operations on a recording driver


@pytest.fixture(scope='module')
def fleet_file(tmp_path_factory):
    path = tmp_path_factory.mktemp('fleet') / 'fleet.json'
    path.write_text(json.dumps({'version': 1, 'hosts': HOSTS}))
    return path


@pytest.fixture(scope='module')
def agents(fleet_file, tmp_path_factory):
    cfg.CONF.set_override('transport_url', 'kombu+memory:////')
    scheduler = RecordingScheduler()
    managers, servers = simulated.build_fleet(
        fleet_file, scheduler, path=str(tmp_path_factory.mktemp('sim')), hosts_per_connection=2)
    for server in servers:
        server.start()
    yield {m.host_name: m for m in managers}, scheduler, agent_rpcapi.AgentAPI(timeout=10)
    for server in servers:
        server.stop()
    for server in servers:
        server.wait()
    rpc.reset_transports()
    cfg.CONF.clear_override('transport_url')


def placement(host_name, request, uuid, managers=None):
    """The engine's assignment on ``host_name``, around the domains already there."""
    running = managers[host_name].domains() if managers else []
    host = dict(next(h for h in HOSTS if h['name'] == host_name),
                instances=[{'uuid': d['uuid'], 'assignment': d['assignment']}
                           for d in running if 'assignment' in d])
    topology = HostTopology.from_dict(host)
    spec = parse_request(request)
    [assignment] = build_engine().place(spec, FleetView([topology]), [uuid]).assignments
    return spec, assignment


def build(api, host, uuid, request=busfleet.PINNED, managers=None):
    spec, assignment = placement(host, request, uuid, managers)
    api.build_instance(host, uuid, request['name'], assignment.to_dict(), spec.to_dict(), {})
    return assignment


def test_build_launches_on_the_named_host_and_reports_active(agents):
    managers, scheduler, api = agents
    assignment = build(api, 'sim-0002', U1, busfleet.PINNED, managers)   # 2nd connection
    assert scheduler.wait_update(U1) == (U1, 'sim-0002', 'ACTIVE', None)
    [domain] = [d for d in managers['sim-0002'].domains() if d['uuid'] == U1]
    assert domain['state'] == 'running' and domain['assignment'] == assignment.to_dict()
    assert domain['name'] == busfleet.PINNED['name']      # the instance's, not libvirt's
    assert all(d['uuid'] != U1 for d in managers['sim-0000'].domains())


def test_a_build_sent_again_is_answered_with_the_state_and_makes_no_second_domain(agents):
    managers, scheduler, api = agents
    uuid = '00000000-0000-4000-8000-000000000081'
    spec, assignment = placement('sim-0001', busfleet.SHARED, uuid, managers)
    for _ in range(2):     # e.g. a scheduler that recovered a build it had cast already
        api.build_instance('sim-0001', uuid, 'again', assignment.to_dict(), spec.to_dict(), {})
        scheduler.wait_update(uuid)
    deadline = time.monotonic() + 10
    while len([u for u in scheduler.updates if u[0] == uuid]) < 2 and \
            time.monotonic() < deadline:
        time.sleep(0.05)
    assert [u[2:] for u in scheduler.updates if u[0] == uuid] == [('ACTIVE', None)] * 2
    assert [d['uuid'] for d in managers['sim-0001'].domains()].count(uuid) == 1


def test_verification_failure_is_reported_as_error_with_the_reason(agents):
    managers, scheduler, api = agents
    spec, assignment = placement('sim-0000', busfleet.PINNED, U2)
    wrong = assignment.to_dict()
    wrong['cells'][0]['pinning']['0'] = 8      # a shared pCPU of cell 0, not dedicated
    api.build_instance('sim-0000', U2, 'x', wrong, spec.to_dict(), {})
    uuid, host, state, reason = scheduler.wait_update(U2)
    assert (host, state) == ('sim-0000', 'ERROR')
    assert 'VERIFY_FAILED' in reason and 'PCPU_NOT_DEDICATED' in reason


def _good_build(uuid):
    spec, assignment = placement('sim-0001', busfleet.PINNED, uuid)
    return {'instance': uuid, 'name': 'vm', 'assignment': assignment.to_dict(),
            'spec': spec.to_dict(), 'request': {}}


# Whatever is malformed, the instance is answered ERROR with a reason naming it.
MALFORMED_BUILDS = [
    ({'assignment': 'nope'}, 'assignment: expected dict'),
    ({'assignment': {'host': 'sim-0001'}}, 'assignment.instance'),
    ({'assignment': None}, 'args.assignment: is required'),
    ({'spec': None}, 'args.spec: is required'),
    ({'spec': {'name': 3}}, 'spec'),
    ({'spec': []}, 'spec: expected dict'),
    ({'name': None}, 'args.name: is required'),
    ({'name': 'a\x00b'}, "name: 'a\\x00b' contains U+0000 (Cc)"),
    ({'name': 'a\u202eb'}, "name: 'a\\u202eb' contains U+202E (Cf)"),
    ({'name': 'x' * 256}, 'name: is 256 characters long, more than the maximum 255'),
    ({'name': 7}, 'args.name: expected str'),
    ({'request': 'x'}, 'request: expected dict'),
    ({'request': {'image': '../../etc'}}, "request.image: '../../etc' is not an image name"),
    ({'request': {'image': 'no-such-image'}}, 'OperationFailed: image no-such-image'),
    ({'bogus': 1}, 'args.bogus: is not an argument of build_instance'),
]


@pytest.mark.parametrize('change,reason', MALFORMED_BUILDS,
                         ids=[r for _, r in MALFORMED_BUILDS])
def test_a_build_it_cannot_read_is_answered_error_and_creates_nothing(agents, change, reason):
    managers, scheduler, api = agents
    uuid = str(uuidlib.uuid5(uuidlib.NAMESPACE_DNS, reason))
    message = dict(_good_build(uuid), **change)
    api.client.prepare(server='sim-0001').cast({'host': 'sim-0001'}, 'build_instance',
                                                **message)
    _, host, state, text = scheduler.wait_update(uuid)
    assert (host, state) == ('sim-0001', 'ERROR') and reason in text
    assert all(d['uuid'] != uuid for d in managers['sim-0001'].domains())
    assert not os.path.exists(managers['sim-0001'].driver.instance_dir(uuid))


def test_a_build_whose_instance_is_unreadable_is_dropped(agents):
    managers, scheduler, api = agents
    before = len(scheduler.updates)
    message = dict(_good_build(U1), instance='../not-a-uuid')
    api.client.prepare(server='sim-0001').cast({'host': 'sim-0001'}, 'build_instance',
                                                **message)
    with pytest.raises(rpc.BusError) as caught:       # a call after the cast: it was handled
        api.console_log('sim-0001', '../not-a-uuid')
    assert caught.value.code == rpc.INVALID_INPUT
    assert len(scheduler.updates) == before


def test_stop_start_delete_and_console_log(agents):
    managers, scheduler, api = agents
    build(api, 'sim-0000', U3, busfleet.SRIOV, managers)
    assert scheduler.wait_update(U3)[2] == 'ACTIVE'
    api.stop('sim-0000', U3)
    _wait_state(scheduler, U3, 'STOPPED')
    assert managers['sim-0000'].driver.state(U3) == 'shutoff'
    api.start('sim-0000', U3)
    _wait_state(scheduler, U3, 'ACTIVE')
    assert api.console_log('sim-0000', U3) == {'instance': U3, 'host': 'sim-0000',
                                               'log': ''}
    api.delete_instance('sim-0000', U3)
    _wait_state(scheduler, U3, 'DELETED')
    assert managers['sim-0000'].driver.state(U3) is None
    with pytest.raises(rpc.BusError) as caught:
        api.console_log('sim-0000', U3)
    assert caught.value.code == rpc.NOT_FOUND


class RecordingDriver:
    """The driver calls a power operation makes (the rest is the real manager)."""

    def __init__(self, real):
        self.real, self.calls = real, []
        self.config = dataclasses.replace(real.config, graceful_shutdown_timeout=7.5)

    def stop(self, instance, graceful_timeout=0.0):
        self.calls.append(('stop', instance, graceful_timeout))

    def reboot(self, instance, hard=False):
        self.calls.append(('reboot', instance, hard))
        return LaunchResult(instance, 'running')


@pytest.mark.parametrize('operation, options, expected', [
    ('stop', {}, ('stop', POWERED, 7.5)),            # asks the guest, waits the timeout
    ('stop', {'force': True}, ('stop', POWERED, 0.0)),
    ('reboot', {}, ('reboot', POWERED, False)),
    ('reboot', {'hard': True}, ('reboot', POWERED, True)),
])
def test_power_options_reach_the_driver(agents, operation, options, expected):
    managers, scheduler, _ = agents
    manager = managers['sim-0001']
    real, manager.driver = manager.driver, RecordingDriver(manager.driver)
    try:
        getattr(manager, operation).__wrapped__(manager, {}, instance=POWERED, **options)
        assert manager.driver.calls == [expected]
        assert scheduler.wait_update(POWERED)[2] == ('STOPPED' if operation == 'stop'
                                                     else 'ACTIVE')
    finally:
        manager.driver = real


def _wait_state(scheduler, uuid, state, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if scheduler.wait_update(uuid)[2] == state:
            return
        time.sleep(0.01)
    raise AssertionError(f"{uuid} never {state}: {scheduler.wait_update(uuid)}")


def test_report_carries_topology_and_domains(agents):
    managers, scheduler, api = agents
    build(api, 'sim-0001', U4, busfleet.PINNED, managers)
    scheduler.wait_update(U4)
    managers['sim-0001'].report()
    name, domains = scheduler.reports[-1]
    assert name == 'sim-0001' and U4 in {d['uuid'] for d in domains}


def test_simulated_pages_follow_the_domains(agents):
    managers, scheduler, api = agents
    conn = managers['sim-0002'].driver.conn
    before = conn.free_pages([0, 1], [2048])
    assignment = build(api, 'sim-0002', U5, busfleet.HUGE, managers)
    assert scheduler.wait_update(U5)[2:] == ('ACTIVE', None)
    cell = assignment.cells[0].host_cell
    after = conn.free_pages([cell], [2048])
    assert before[cell][2048] - after[cell][2048] == busfleet.HUGE['memory_mb'] // 2


def test_a_restarted_simulated_agent_finds_its_domains(agents, tmp_path):
    managers, scheduler, api = agents
    build(api, 'sim-0001', U6, busfleet.PINNED, managers)
    assert scheduler.wait_update(U6)[2] == 'ACTIVE'
    path = managers['sim-0001'].driver.config.instances_path.rsplit('/hosts/', 1)[0]
    topology = managers['sim-0001'].topology()
    again = simulated.simulated_host(topology, path, simulated.prepare_simulation(path),
                                     RecordingScheduler())
    result = again.startup()
    assert U6 in {a.uuid for a in result.adopted}
    assert again.driver.state(U6) == 'running'


def test_reports_name_the_images_the_host_has(agents, tmp_path):
    managers, scheduler, api = agents
    managers['sim-0002'].report()
    assert scheduler.last_host['name'] == 'sim-0002'
    assert scheduler.last_host['images'] == ['simulated']
    manager = managers['sim-0002']
    assert manager.images() == ['simulated']
    os.makedirs(os.path.join(manager.images_path, 'no-image-json'), exist_ok=True)
    os.makedirs(os.path.join(manager.images_path, '.hidden'), exist_ok=True)
    assert manager.images() == ['simulated']
    manager.images_path, kept = str(tmp_path / 'missing'), manager.images_path
    try:
        assert manager.images() is None         # unreadable: the scheduler assumes any
    finally:
        manager.images_path = kept
