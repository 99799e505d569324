"""SchedulerManager over an in-process bus (kombu+memory): boots, claims, reschedules,
reconciliation, host liveness and malformed messages.
"""

import threading

import pytest
from oslo_config import cfg

from scheduler.engine import EngineSettings, build_engine
from scheduler.manager import SchedulerManager
from scheduler.store import ACTIVE, BUILDING, DELETED, ERROR, STOPPED, Store, models
from tests import busfleet, conftest, notifications
from wire import rpc, scheduler_rpcapi, upgrade_levels
from wire.assignment import Assignment
from wire.notifications import assignment_summary as notifications_summary

UUID1 = '6f1c3b52-93a4-4d5e-8c1a-0b2d3e4f5a61'


class Clock:
    def __init__(self, now=1000.0):
        self.now = now

    def __call__(self):
        return self.now


class RecordingAgents:
    """Stands in for AgentAPI: records what would be cast to which host."""

    def __init__(self):
        self.calls = []
        self.lock = threading.Lock()

    def _record(self, *call):
        with self.lock:
            self.calls.append(call)

    def build_instance(self, host, instance, name, assignment, spec, request=None):
        self._record('build_instance', host, instance, assignment)

    def build_instances(self, host, builds):
        """Several builds in one cast (1.5): recorded as one build_instance each."""
        self._record('build_instances', host, [b['instance'] for b in builds])
        for build in builds:
            self.build_instance(host, **build)

    def delete_instance(self, host, instance):
        self._record('delete_instance', host, instance)

    def stop(self, host, instance, **options):
        self._record('stop', host, instance, *options)

    def start(self, host, instance):
        self._record('start', host, instance)

    def reboot(self, host, instance, **options):
        self._record('reboot', host, instance, *options)

    def console_log(self, host, instance):
        return {'instance': instance, 'log': f"console of {instance} on {host}"}

    def builds(self):
        return [c for c in self.calls if c[0] == 'build_instance']


class ManagerProxy:
    """One RPC server for the module; each test swaps the manager behind it."""

    target = SchedulerManager.target     # the version the real endpoints serve
    manager = None

    def __getattr__(self, name):
        return getattr(self.manager, name)


@pytest.fixture(scope='module')
def bus():
    cfg.CONF.set_override('transport_url', 'kombu+memory:////')
    proxy = ManagerProxy()
    server = rpc.get_rpc_server(scheduler_rpcapi.TOPIC, 'unit-scheduler', [proxy])
    server.start()
    yield proxy, scheduler_rpcapi.SchedulerAPI(timeout=10)
    server.stop()
    server.wait()
    rpc.reset_transports()
    cfg.CONF.clear_override('transport_url')


@pytest.fixture(scope='module')
def postgres_schema(postgres_url):
    """A private schema in kvmfleet_test for this module's stores."""
    with conftest.postgres_schema(postgres_url, 'kvmfleet_manager_test') as url:
        yield url


def make_store(request, tmp_path, clock):
    if request.param == 'sqlite':
        return Store(f"sqlite:///{tmp_path}/s.sqlite", clock=clock).create_schema()
    store = Store(request.getfixturevalue('postgres_schema'), clock=clock).create_schema()
    with store.engine.begin() as conn:     # each test starts from empty tables
        for table in reversed(models.Base.metadata.sorted_tables):
            conn.execute(table.delete())
    return store


@pytest.fixture(params=['sqlite', pytest.param('postgres', marks=pytest.mark.postgres)])
def world(request, bus, tmp_path):
    proxy, client = bus
    clock = Clock()
    store = make_store(request, tmp_path, clock)
    agents = RecordingAgents()
    engine = build_engine(EngineSettings(seed=1, max_alternates=3))
    notifier, capture = notifications.capturing()
    manager = SchedulerManager(store, engine, agents, notifier=notifier, clock=clock)
    proxy.manager = manager

    class World:
        pass
    world = World()
    world.__dict__.update(store=store, clock=clock, agents=agents, client=client,
                          manager=manager, engine=engine, notifier=capture)
    yield world
    store.dispose()


def report(world, host_dict, domains=()):
    world.manager.report_host.__wrapped__(world.manager, {}, host=host_dict,
                                          instances=list(domains))


def add_hosts(world, count=2, **shape):
    hosts = busfleet.fleet(count, **shape)
    for host in hosts:
        report(world, host)
    return hosts


def reply(world, uuid, state, reason=None):
    record = world.store.get_instance(uuid)
    world.manager.instance_update.__wrapped__(world.manager, {}, instance=uuid,
                                              host=record.host, state=state, reason=reason)


def test_boot_claims_dispatches_and_goes_active(world):
    add_hosts(world)
    answer = world.client.boot(busfleet.PINNED)
    [instance] = answer['instances']
    assert instance['state'] == BUILDING and instance['host']
    [(_, host, uuid, assignment)] = world.agents.builds()
    assert (host, uuid) == (instance['host'], instance['uuid'])
    assert world.store.get_instance(uuid).assignment == assignment
    reply(world, uuid, ACTIVE)
    assert world.client.show(uuid)['state'] == ACTIVE
    assert world.client.show('pinned')['uuid'] == uuid     # by unique name too


def test_boot_is_idempotent_per_uuid(world):
    add_hosts(world)
    first = world.client.boot(busfleet.PINNED, instance_uuids=[UUID1])
    again = world.client.boot(busfleet.PINNED, instance_uuids=[UUID1])
    assert first['instances'][0]['uuid'] == again['instances'][0]['uuid'] == UUID1
    assert len(world.store.all_allocations()) == 1
    # still BUILDING: the retry sends the same build again (the first may be lost)
    first_build, second_build = world.agents.builds()
    assert first_build == second_build


def test_a_retried_boot_of_an_active_instance_sends_no_build(world):
    add_hosts(world)
    world.client.boot(busfleet.PINNED, instance_uuids=[UUID1])
    reply(world, UUID1, ACTIVE)
    world.client.boot(busfleet.PINNED, instance_uuids=[UUID1])
    assert len(world.agents.builds()) == 1


def test_a_retried_boot_with_another_request_is_a_conflict(world):
    add_hosts(world)
    world.client.boot(busfleet.PINNED, instance_uuids=[UUID1])
    with pytest.raises(rpc.BusError) as caught:
        world.client.boot(dict(busfleet.PINNED, vcpus=4), instance_uuids=[UUID1])
    assert caught.value.code == rpc.CONFLICT and UUID1 in caught.value.message
    assert world.store.get_instance(UUID1).request['vcpus'] == busfleet.PINNED['vcpus']
    assert len(world.agents.builds()) == 1


class Unreachable:
    def build_instance(self, *args):
        raise RuntimeError('the scheduler died before this cast')


def test_a_build_claimed_and_never_cast_is_cast_again_once(world):
    add_hosts(world)
    world.manager.agents = Unreachable()
    with pytest.raises(rpc.BusError):          # as if the process died after the commit
        world.client.boot(busfleet.PINNED, instance_uuids=[UUID1])
    assert [b.uuid for b in world.store.pending_builds()] == [UUID1]
    world.manager.agents = world.agents
    world.clock.now += 1
    assert world.manager.recast_pending(min_age_s=5) == []      # too young for another
    assert world.manager.recast_pending() == [UUID1]             # a restarted scheduler
    [(_, host, uuid, assignment)] = world.agents.builds()
    assert uuid == UUID1 and assignment == world.store.get_instance(UUID1).assignment
    assert world.store.pending_builds() == [] and world.manager.recast_pending() == []


def test_the_marks_of_builds_cast_are_cleared_together_at_the_flush(world):
    add_hosts(world)
    booted = [world.client.boot(dict(busfleet.PINNED, name=f"m{n}"))['instances'][0]['uuid']
              for n in range(3)]
    assert len(world.agents.builds()) == 3          # every build left at once
    assert sorted(b.uuid for b in world.store.pending_builds()) == sorted(booted)
    assert world.manager.cast_marks.flush() == 3 and world.manager.cast_marks.flush() == 0
    assert world.store.pending_builds() == []


def test_a_failed_clearing_of_marks_keeps_them_and_recast_never_takes_its_own(world):
    add_hosts(world)
    uuid = world.client.boot(busfleet.PINNED)['instances'][0]['uuid']
    marks, store = world.manager.cast_marks, world.store

    class Down:
        def builds_cast(self, uuids):
            raise RuntimeError('database down')
    marks.store = Down()
    with pytest.raises(RuntimeError):
        marks.flush()
    marks.store = store
    assert [b.uuid for b in store.pending_builds()] == [uuid]
    world.clock.now += 60
    assert world.manager.recast_pending() == []    # cast by this process: not pending
    assert len(world.agents.builds()) == 1 and store.pending_builds() == []


def test_count_boots_distinct_instances_without_sharing_a_pcpu(world):
    add_hosts(world, 1)
    answer = world.client.boot(dict(busfleet.PINNED, count=4))
    assert [i['name'] for i in answer['instances']] == [f"pinned-{n}" for n in range(1, 5)]
    held = [cpu for a in world.store.all_allocations() for cpu in a.pinned_pcpus]
    assert len(held) == 8 and len(set(held)) == 8


def test_no_valid_host_answers_with_the_explanation_and_records_error(world):
    add_hosts(world, 2)
    with pytest.raises(rpc.BusError) as caught:
        world.client.boot(dict(busfleet.PINNED, name='big', vcpus=64))
    error = caught.value
    assert error.code == rpc.NO_VALID_HOST
    assert error.details['explanation']['hosts'] == 2
    assert 'no valid host among 2' in error.message
    [uuid] = error.details['instances']
    record = world.store.get_instance(uuid)
    assert record.state == ERROR and record.reason.startswith('NoValidHost')
    assert world.agents.builds() == [] and world.store.all_allocations() == []


def test_stale_view_conflict_is_refitted_on_fresh_state(world):
    add_hosts(world, 1, cells=1, pcpus_per_cell=4, vfs_per_cell=0)
    # Another scheduler claims pCPUs 0-1 behind this one's back.
    world.store.create_instance('other', 'other', {}, None, BUILDING)
    pinning = Assignment.from_dict({
        'host': 'host-0000', 'instance': 'other', 'vcpus': 2, 'memory_mb': 512,
        'cells': [{'guest_cell': 0, 'host_cell': 0, 'vcpus': [0, 1], 'memory_mb': 512,
                   'pinning': {'0': 0, '1': 1}}]})
    world.store.claim(pinning, world.store.get_host('host-0000').generation)
    world.manager.state.catch_up = list   # ...after this one caught up: its claim conflicts
    answer = world.client.boot(busfleet.PINNED)
    mine = world.store.get_instance(answer['instances'][0]['uuid']).assignment
    assert set(mine['cells'][0]['pinning'].values()) == {2, 3}
    with pytest.raises(rpc.BusError) as caught:   # the fresh view knows the host is full
        world.client.boot(busfleet.PINNED)
    assert caught.value.code == rpc.NO_VALID_HOST


def test_build_failure_reschedules_then_errors_with_every_reason(world):
    cfg.CONF.set_override('max_attempts', 2, group='scheduler')
    try:
        add_hosts(world, 3)
        uuid = world.client.boot(busfleet.PINNED)['instances'][0]['uuid']
        first = world.store.get_instance(uuid).host
        reply(world, uuid, ERROR, 'libvirt said no')
        second = world.store.get_instance(uuid)
        assert second.state == BUILDING and second.host != first
        assert [b[1] for b in world.agents.builds()] == [first, second.host]
        reply(world, uuid, ERROR, 'disk full')
        final = world.store.get_instance(uuid)
        assert final.state == ERROR
        assert f"{first}: libvirt said no" in final.reason
        assert f"{second.host}: disk full" in final.reason
        assert world.store.all_allocations() == [] and world.store.held_resources() == []
        [moved] = world.notifier.data('instance.reschedule')
        assert (moved['previous_host'], moved['host'], moved['attempt'], moved['reason']) == \
            (first, second.host, 1, 'libvirt said no')
        assert moved['assignment'] == notifications_summary(second.assignment)
        [failed] = world.notifier.data('instance.create.error')
        assert failed['fault'] == {'exception': 'BuildFailed', 'message': final.reason}
    finally:
        cfg.CONF.clear_override('max_attempts', group='scheduler')


def test_delete_frees_the_claim_when_the_agent_confirms(world):
    add_hosts(world, 1)
    uuid = world.client.boot(busfleet.SRIOV)['instances'][0]['uuid']
    reply(world, uuid, ACTIVE)
    assert world.client.delete(uuid)['task'] == 'deleting'
    assert world.agents.calls[-1][0] == 'delete_instance'
    reply(world, uuid, DELETED)
    assert world.client.show(uuid)['state'] == DELETED
    assert world.store.held_resources() == []
    assert world.client.list()['instances'] == []


def test_stop_start_follow_agent_replies_and_refuse_wrong_states(world):
    add_hosts(world, 1)
    uuid = world.client.boot(busfleet.SHARED)['instances'][0]['uuid']
    with pytest.raises(rpc.BusError) as caught:
        world.client.stop(uuid)            # still BUILDING
    assert caught.value.code == rpc.CONFLICT
    reply(world, uuid, ACTIVE)
    assert world.client.stop(uuid)['task'] == 'stopping'
    reply(world, uuid, STOPPED)
    assert world.client.start(uuid)['task'] == 'starting'
    reply(world, uuid, ACTIVE)
    assert world.client.show(uuid)['state'] == ACTIVE
    assert world.client.console_log(uuid)['log'].startswith('console of')


def test_stop_force_and_reboot_hard_reach_the_agent(world):
    add_hosts(world, 1)
    uuid = world.client.boot(busfleet.SHARED)['instances'][0]['uuid']
    reply(world, uuid, ACTIVE)
    world.client.reboot(uuid, hard=True)
    reply(world, uuid, ACTIVE)
    world.client.reboot(uuid)
    reply(world, uuid, ACTIVE)
    world.client.stop(uuid, force=True)
    calls = [c for c in world.agents.calls if c[0] in ('stop', 'reboot')]
    assert [(c[0], c[3:]) for c in calls] == [('reboot', ('hard',)), ('reboot', ()),
                                              ('stop', ('force',))]
    with pytest.raises(rpc.BusError) as caught:
        world.client.client.prepare(version='1.2').call({}, 'stop', instance=uuid,
                                                        force='yes')
    assert caught.value.code == rpc.INVALID_INPUT and 'force' in caught.value.message


def test_an_operation_the_agent_client_cannot_send_leaves_no_task(world):
    add_hosts(world, 1)
    uuid = world.client.boot(busfleet.SHARED)['instances'][0]['uuid']
    reply(world, uuid, ACTIVE)

    def capped(host, instance, **options):
        raise upgrade_levels.capped('reboot --hard', '1.1')
    world.agents.reboot = capped
    with pytest.raises(rpc.BusError) as caught:
        world.client.reboot(uuid, hard=True)
    assert caught.value.code == rpc.OPERATION_FAILED and 'reboot --hard needs RPC API 1.1' \
        in caught.value.message
    assert world.client.show(uuid)['task'] is None


def test_hosts_show_used_and_free_per_cell(world):
    add_hosts(world, 1)
    world.client.boot(busfleet.SRIOV)
    [host] = world.client.hosts()['hosts']
    used = sum(c['pcpus']['used'] for c in host['cells'])
    free_vfs = sum(c['vfs_by_physnet'][busfleet.PHYSNET]['free'] for c in host['cells'])
    assert (used, free_vfs, host['up'], host['enabled']) == (2, 3, True, True)
    assert host['cells'][0]['pages']['2048']['total'] == 1024


def test_host_detail_adds_the_topology_and_the_instances_the_host_holds(world):
    add_hosts(world, 1)
    [booted] = world.client.boot(busfleet.request(busfleet.SRIOV, name='vnf'))['instances']
    detail = world.client.host_detail('host-0000')
    assert {k: v for k, v in detail.items() if k != 'topology'} == \
        world.client.hosts()['hosts'][0]
    topology = detail['topology']
    assert [c['cpus'] for c in topology['cells']] == [list(range(8)), list(range(10, 18))]
    assert {d['type'] for d in topology['pci_devices']} == {'type-PF', 'type-VF'}
    [held] = topology['instances']
    assert (held['uuid'], held['name']) == (booted['uuid'], 'vnf')
    assert held['assignment'] == world.client.show(booted['uuid'])['assignment']


@pytest.mark.parametrize('host, code', [('nowhere', rpc.NOT_FOUND),
                                        ('<script>', rpc.INVALID_INPUT)])
def test_host_detail_of_an_unknown_or_malformed_host_is_refused(world, host, code):
    add_hosts(world, 1)
    with pytest.raises(rpc.BusError) as caught:
        world.client.host_detail(host)
    assert caught.value.code == code and 'host' in caught.value.message


def test_disabled_and_down_hosts_take_nothing_new(world):
    add_hosts(world, 2)
    world.client.host_set_enabled('host-0000', False, 'maintenance')
    world.clock.now += 61
    report(world, busfleet.host('host-0000'))         # disabled but alive
    assert world.manager.check_hosts() == ['host-0001']
    with pytest.raises(rpc.BusError) as caught:
        world.client.boot(busfleet.PINNED)
    assert caught.value.details['explanation']['reasons'] == {'HOST_DISABLED': 1,
                                                              'HOST_DOWN': 1}
    report(world, busfleet.host('host-0001'))         # back up
    assert world.client.boot(busfleet.PINNED)['instances'][0]['host'] == 'host-0001'


def test_reconcile_errors_missing_domains_after_grace_and_adopts_unknown(world):
    [host] = add_hosts(world, 1)
    lost = world.client.boot(busfleet.PINNED)['instances'][0]['uuid']
    report(world, host)                                    # within the grace period
    assert world.store.get_instance(lost).state == BUILDING
    world.clock.now += cfg.CONF.scheduler.build_grace_period + 1
    stray_uuid, clash_uuid, foreign_uuid = (f"00000000-0000-4000-8000-00000000000{i}"
                                            for i in range(3))
    stray = Assignment.from_dict({
        'host': host['name'], 'instance': stray_uuid, 'vcpus': 1, 'memory_mb': 256,
        'cells': [{'guest_cell': 0, 'host_cell': 1, 'vcpus': [0], 'memory_mb': 256,
                   'pinning': {'0': 12}}]})
    clash = Assignment.from_dict(dict(stray.to_dict(), instance=clash_uuid))
    report(world, host, [
        {'uuid': stray_uuid, 'name': 'stray', 'state': 'running',
         'assignment': stray.to_dict()},
        {'uuid': clash_uuid, 'name': 'clash', 'state': 'running',
         'assignment': clash.to_dict()},
        {'uuid': foreign_uuid, 'name': 'foreign', 'state': 'running'}])
    record = world.store.get_instance(lost)
    assert record.state == ERROR and 'no domain on host' in record.reason
    assert world.store.get_instance(stray_uuid).state == ACTIVE
    held = {r[3] for r in world.store.held_resources()}
    assert held == {stray_uuid}
    [view] = world.client.hosts()['hosts']
    flagged = {f['uuid']: f['reason'] for f in view['unknown_domains']}
    assert set(flagged) == {clash_uuid, foreign_uuid}
    assert flagged[clash_uuid] == ('cannot adopt: does not fit the host: pCPUs 12 are already '
                                   f"held by instance {stray_uuid}")


def test_a_report_older_than_the_build_does_not_error_it(world):
    [host] = add_hosts(world, 1)
    uuid = world.client.boot(busfleet.PINNED)['instances'][0]['uuid']
    reply(world, uuid, ACTIVE)
    world.clock.now += 5
    report(world, host)              # listed its domains before the build finished
    assert world.store.get_instance(uuid).state == ACTIVE
    assert len(world.store.all_allocations()) == 1


def test_explain_and_capacity_are_dry_runs(world):
    add_hosts(world, 2)
    explained = world.client.explain(busfleet.PINNED)
    assert len(explained['assignments']) == 1 and explained['explanation']['fits'] == 2
    capacity = world.client.capacity(busfleet.PINNED)
    assert capacity['fits'] == 16       # 2 hosts x 2 cells x 8 pCPUs / 2 vCPUs
    assert world.store.all_allocations() == [] and world.agents.builds() == []


MALFORMED = [
    ('boot', {'request': 'not a dict'}, 'request'),
    ('boot', {'request': {'name': 'x', 'vcpus': 'many', 'memory_mb': 1}}, 'vcpus'),
    ('boot', {'request': busfleet.PINNED, 'instance_uuids': 'u-1'}, 'instance_uuids'),
    ('boot', {'request': busfleet.PINNED, 'instance_uuids': [1]}, 'instance_uuids[0]'),
    ('boot', {'request': busfleet.PINNED, 'instance_uuids': ['vm-1']}, 'instance_uuids[0]'),
    ('boot', {'request': busfleet.PINNED, 'instance_uuids': [UUID1.upper()]},
     'instance_uuids[0]'),
    ('boot', {'request': busfleet.PINNED, 'bogus': 1}, 'bogus'),
    ('report_host', {'host': {'name': 'h'}, 'instances': []}, 'host.cells'),
    ('report_host', {'host': busfleet.host('h'), 'instances': [{'state': 'x'}]},
     'instances[0].uuid'),
    ('report_host', {'host': busfleet.host('h'), 'instances': {}}, 'instances'),
    ('instance_update', {'instance': UUID1, 'host': 'h', 'state': 'FLYING'}, 'state'),
    ('instance_update', {'instance': '../u', 'host': 'h', 'state': 'ACTIVE'}, 'instance'),
    ('instance_update', {'instance': UUID1, 'host': '../etc', 'state': 'ACTIVE'}, 'host'),
    ('instance_update', {'instance': UUID1, 'host': 'h', 'state': 'ERROR', 'reason': 'a\x00'},
     'reason'),
    ('instance_updates', {'updates': [{}] * 1001}, 'updates'),
    ('report_host', {'host': busfleet.host('h'),
                     'instances': [{'uuid': UUID1, 'state': 'flying'}]}, 'instances[0].state'),
    ('show', {'instance': 'a\u202eb'}, 'instance'),
    ('show', {'instance': '\ud800'}, 'instance'),
    ('show', {'instance': 'x' * 256}, 'instance'),
    ('delete', {}, 'args.instance'),
    ('list', {'host': ['h']}, 'host'),
    ('instance_update', {'instance': 7, 'host': 'h', 'state': 'ACTIVE'}, 'instance'),
    ('host_set_enabled', {'host': 'h', 'enabled': 'yes'}, 'enabled'),
    ('list', {'state': 'NOPE'}, 'state'),
]


@pytest.mark.parametrize('method,kwargs,field', MALFORMED,
                         ids=[f"{m}-{f}" for m, _, f in MALFORMED])
def test_malformed_messages_are_rejected_and_the_service_goes_on(world, method, kwargs, field):
    with pytest.raises(rpc.BusError) as caught:
        world.client.client.call({}, method, **kwargs)
    assert caught.value.code == rpc.INVALID_INPUT
    assert field in caught.value.message
    assert world.client.list()['instances'] == []      # still serving, nothing changed


def test_notifications_follow_the_lifecycle(world):
    add_hosts(world, 1)
    world.clock.now += 61
    world.manager.check_hosts()
    report(world, busfleet.host('host-0000'))
    uuid = world.client.boot(busfleet.PINNED)['instances'][0]['uuid']
    reply(world, uuid, ACTIVE)
    world.client.delete(uuid)
    reply(world, uuid, DELETED)
    with pytest.raises(rpc.BusError):
        world.client.boot(dict(busfleet.PINNED, vcpus=64))
    # create.end and delete.* come from the agent (kvmfleet-agent:<host>), not from here
    assert world.notifier.names() == [
        'host.up', 'host.down', 'host.up', 'instance.schedule.start', 'instance.schedule.end',
        'instance.schedule.start', 'instance.create.error']
    scheduled = world.notifier.data('instance.schedule.end')[0]
    assert (scheduled['uuid'], scheduled['host'], scheduled['state']) == \
        (uuid, 'host-0000', BUILDING)
    assert scheduled['assignment']['cells'][0]['pinned_pcpus']
    error = world.notifier.messages[-1]
    assert error['priority'] == 'ERROR'
    assert error['payload']['kvmfleet_object.data']['fault']['exception'] == 'NoValidHost'
    for message in world.notifier.messages:
        notifications.check(message)


def test_only_endpoint_methods_are_callable(world):
    with pytest.raises(rpc.BusError) as refused:
        world.client.client.call({}, 'check_hosts')
    assert refused.value.code == rpc.NO_SUCH_METHOD


def test_a_boot_whose_image_no_host_has_is_refused_before_any_claim(world):
    hosts = busfleet.fleet(2)
    report(world, dict(hosts[0], images=['cirros']))
    report(world, dict(hosts[1], images=['cirros', 'debian-12']))
    with pytest.raises(rpc.BusError) as refused:
        world.client.boot(dict(busfleet.PINNED, image='fedora'))
    assert refused.value.code == rpc.NO_VALID_HOST
    assert refused.value.message == 'image fedora: no host that is up and enabled has it'
    assert world.store.list_instances() == [] and world.agents.builds() == []
    world.client.host_set_enabled('host-0001', False)
    with pytest.raises(rpc.BusError, match='image debian-12: no host'):
        world.client.boot(dict(busfleet.PINNED, image='debian-12'))
    assert world.client.boot(dict(busfleet.PINNED, image='cirros'))['instances'][0]['host'] == \
        'host-0000'


def test_a_boot_goes_only_to_hosts_that_have_its_image(world):
    hosts = busfleet.fleet(3)
    report(world, dict(hosts[0], images=['cirros']))
    report(world, dict(hosts[1], images=['cirros', 'debian-12']))
    report(world, dict(hosts[2], images=['cirros']))
    answer = world.client.boot(dict(busfleet.PINNED, image='debian-12', count=3))
    assert {i['host'] for i in answer['instances']} == {'host-0001'}
    assert all(host == 'host-0001' for _, host, _, _ in world.agents.builds())


def test_a_host_that_reports_no_images_may_have_any(world):
    add_hosts(world, 1)                      # a fleet-file host / an older agent
    [instance] = world.client.boot(dict(busfleet.PINNED, image='anything'))['instances']
    assert instance['state'] == BUILDING
