"""The scheduler's moves (scheduler.move_endpoints, mover, drain) with recording agents:
exact destination claims beside the source, finish and rollback, drain, evacuation."""

import pytest
from oslo_config import cfg

from scheduler.engine import EngineSettings, build_engine
from scheduler.fitting import audit
from scheduler.manager import SchedulerManager
from scheduler.store import ACTIVE, BUILDING, DELETED, MIGRATING, Store, models
from tests import busfleet
from tests.unit.scheduler import test_manager as base
from tests.unit.scheduler.test_manager import (
    Clock,
    RecordingAgents,
    add_hosts,
    reply,
    report,
)
from wire import rpc

bus = base.bus     # the in-process bus (a fixture)
HA = dict(busfleet.PINNED, name='ha', extra_specs={'hw:cpu_policy': 'dedicated',
                                                    'kvmfleet:ha': 'true'})


class MovingAgents(RecordingAgents):
    """Agents that answer moves at once: the destination prepares (or refuses with
    ``refusal``), the source migrates (or fails with ``failure``)."""

    def __init__(self):
        super().__init__()
        self.manager = None
        self.refusal = self.failure = None
        self.answer_source = True

    def prepare_migration(self, host, migration, instance, name, assignment, spec,
                          request=None, timeout=None):
        self._record('prepare_migration', host, instance, assignment)
        if self.refusal:
            return {'ok': False, 'reason': self.refusal}
        return {'ok': True, 'uri': f"qemu+tcp://{host}/system", 'xml': '<domain/>'}

    def migrate_instance(self, host, migration, instance, dest_host, dest_uri, dest_xml,
                         live=True, data_uri=None, keep_source=False):
        self._record('migrate_instance', host, instance, dest_host, live, keep_source)
        if self.answer_source:
            status = 'failed' if self.failure else 'migrated'
            call(self.manager, 'migration_update', migration=migration, host=host,
                 status=status, reason=self.failure)

    def finish_migration(self, host, migration, instance, assignment):
        self._record('finish_migration', host, instance, assignment)

    def abort_migration(self, host, migration, instance):
        self._record('abort_migration', host, instance)

    def resize_in_place(self, host, migration, instance, name, assignment, spec,
                        request=None, timeout=None):
        self._record('resize_in_place', host, instance, assignment)
        if self.refusal:
            return {'ok': False, 'reason': self.refusal}
        return {'ok': True}

    def revert_resize(self, host, migration, instance, assignment):
        self._record('revert_resize', host, instance, assignment)

    def named(self, method):
        return [c[1:] for c in self.calls if c[0] == method]


def call(manager, method, **kwargs):
    """An endpoint called in process; errors raise BusError as on the bus."""
    return getattr(type(manager), method).__wrapped__(manager, {}, **kwargs)


@pytest.fixture(scope='module')
def shared_store(tmp_path_factory):
    """One SQLite store for the module (the schema is made once); emptied per test.
    The store's moves are tested on PostgreSQL too (tests/unit/scheduler/store)."""
    clock = Clock()
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('moves')}/s.sqlite",
                  clock=clock).create_schema()
    yield store
    store.dispose()


@pytest.fixture
def moving(bus, shared_store):
    proxy, client = bus
    with shared_store.engine.begin() as conn:
        for table in reversed(models.Base.metadata.sorted_tables):
            if table.name not in ('schema_version', 'alembic_version'):
                conn.execute(table.delete())
    clock = shared_store.clock
    clock.now = 1000.0
    agents, events = MovingAgents(), []
    engine = build_engine(EngineSettings(seed=1, max_alternates=3))
    manager = SchedulerManager(shared_store, engine, agents, clock=clock)
    manager.spawn = lambda target, *args: target(*args)    # moves run in line
    # the one hook of move events (SchedulerManager._notify_move)
    manager.mover.notify = lambda event, payload, error=False: events.append(event)
    agents.manager = proxy.manager = manager

    class World:
        pass
    world = World()
    world.__dict__.update(store=shared_store, clock=clock, agents=agents, client=client,
                          manager=manager, engine=engine, events=events)
    return world


def active(world, request=busfleet.PINNED):
    uuid = world.client.boot(request)['instances'][0]['uuid']
    reply(world, uuid, ACTIVE)
    return uuid


def overruns(world):
    """Every pool of every host that the claims (a move's both sides included) overrun."""
    lines = []
    for name in world.manager.state.generations:
        held = [h.assignment for h in world.store.held_instances(name)]
        held += [h.assignment for h in world.store.move_claims(name)]
        topology = world.manager.state.fleet.state(name).topology
        lines += audit.overruns(topology, world.engine.policy, held)
    return lines


def test_a_live_migration_claims_the_destination_then_frees_the_source(moving):
    add_hosts(moving, 2)
    moving.agents.answer_source = False
    uuid = active(moving, busfleet.SRIOV)
    source = moving.store.get_instance(uuid)
    answer = call(moving.manager, 'migrate', instance=uuid, live=True)
    assert (answer['status'], answer['kind'], answer['source_host']) == (
        models.CLAIMED, 'live', source.host)
    dest = answer['dest_host']
    assert dest != source.host
    assert moving.store.get_instance(uuid).state == MIGRATING
    assert {r[0] for r in moving.store.held_resources()} == {source.host, dest}
    assert overruns(moving) == []
    [(host, _, assignment)] = moving.agents.named('prepare_migration')
    assert host == dest and assignment == answer['dest_assignment']
    assert assignment['instance'] == uuid
    [(host, _, to, live, keep)] = moving.agents.named('migrate_instance')
    assert (host, to, live, keep) == (source.host, dest, True, False)
    call(moving.manager, 'migration_update', migration=answer['uuid'], host=source.host,
         status='migrated')
    record = moving.store.get_instance(uuid)
    assert (record.state, record.host, record.assignment) == (ACTIVE, dest, assignment)
    assert {r[0] for r in moving.store.held_resources()} == {dest}
    assert moving.agents.named('finish_migration') == [(dest, uuid, assignment)]
    shown = call(moving.manager, 'show', instance=uuid)
    assert [m['status'] for m in shown['migrations']] == [models.DONE]
    assert moving.events[-2:] == ['instance.live_migration.start',
                                  'instance.live_migration.end']


def test_a_destination_that_refuses_rolls_back(moving):
    add_hosts(moving, 2)
    uuid = active(moving)
    before = sorted(moving.store.held_resources())
    moving.agents.refusal = 'NUMA_CELL_NO_FREE_PCPUS: pCPU 3 is not free'
    answer = call(moving.manager, 'migrate', instance=uuid)
    stored = moving.store.get_migration(answer['uuid'])
    assert stored.status == models.FAILED and 'pCPU 3 is not free' in stored.reason
    record = moving.store.get_instance(uuid)
    assert (record.state, record.task) == (ACTIVE, None)
    assert 'pCPU 3 is not free' in record.reason
    assert sorted(moving.store.held_resources()) == before
    assert moving.agents.named('abort_migration') == [(stored.dest_host, uuid)]
    assert moving.agents.named('migrate_instance') == []
    assert 'instance.migrate.error' in moving.events


def test_a_source_that_fails_keeps_the_instance(moving):
    add_hosts(moving, 2)
    uuid = active(moving)
    source = moving.store.get_instance(uuid).host
    moving.agents.failure = 'LIVE_MIGRATION_UNSUPPORTED: SEV guest'
    answer = call(moving.manager, 'migrate', instance=uuid, live=True)
    assert moving.store.get_migration(answer['uuid']).status == models.FAILED
    record = moving.store.get_instance(uuid)
    assert (record.state, record.host) == (ACTIVE, source)
    assert {r[0] for r in moving.store.held_resources()} == {source}


def test_a_named_host_that_does_not_fit_is_refused_with_its_reason(moving):
    add_hosts(moving, 2, pcpus_per_cell=2)
    uuid = active(moving, dict(busfleet.PINNED, vcpus=2))
    other = next(h for h in ('host-0000', 'host-0001')
                 if h != moving.store.get_instance(uuid).host)
    for name in ('filler-a', 'filler-b', 'filler-c'):     # both hosts full
        active(moving, dict(busfleet.PINNED, vcpus=2, name=name))
    with pytest.raises(rpc.BusError) as caught:
        call(moving.manager, 'migrate', instance=uuid, host=other)
    assert caught.value.code == rpc.NO_VALID_HOST
    assert 'NUMA_CELL_NO_FREE_PCPUS' in caught.value.message
    assert moving.store.list_migrations(instance=uuid) == []
    with pytest.raises(rpc.BusError, match='own host'):
        call(moving.manager, 'migrate', instance=uuid,
             host=moving.store.get_instance(uuid).host)


def test_no_destination_is_recorded_as_a_failed_migration(moving):
    add_hosts(moving, 1)
    uuid = active(moving)
    answer = call(moving.manager, 'migrate', instance=uuid)
    assert answer['status'] == models.FAILED and answer['reason'].startswith('NoValidHost')
    assert moving.store.get_instance(uuid).state == ACTIVE


@pytest.mark.parametrize('kwargs, field', [
    ({'migration': 'nope', 'host': 'host-0000', 'status': 'migrated'}, 'migration'),
    ({'migration': '6f1c3b52-93a4-4d5e-8c1a-0b2d3e4f5a61', 'host': 'host-0000',
      'status': 'done'}, 'status'),
])
def test_bad_migration_updates_are_refused(moving, kwargs, field):
    with pytest.raises(Exception) as caught:
        call(moving.manager, 'migration_update', **kwargs)
    assert field in str(caught.value)


def test_only_the_source_may_report_a_migration(moving):
    add_hosts(moving, 3)
    moving.agents.answer_source = False
    uuid = active(moving)
    answer = call(moving.manager, 'migrate', instance=uuid)
    with pytest.raises(rpc.BusError, match='not the source'):
        call(moving.manager, 'migration_update', migration=answer['uuid'],
             host=answer['dest_host'], status='migrated')
    assert moving.store.get_migration(answer['uuid']).status == models.MOVING


def test_a_moving_instance_cannot_be_deleted_or_moved_again(moving):
    add_hosts(moving, 3)
    moving.agents.answer_source = False
    uuid = active(moving)
    call(moving.manager, 'migrate', instance=uuid)
    for method in ('delete', 'migrate'):
        with pytest.raises(rpc.BusError) as caught:
            call(moving.manager, method, instance=uuid)
        assert caught.value.code == rpc.CONFLICT


def test_reports_during_a_move_change_nothing(moving):
    hosts = add_hosts(moving, 2)
    moving.agents.answer_source = False
    uuid = active(moving)
    answer = call(moving.manager, 'migrate', instance=uuid)
    moving.clock.now += cfg.CONF.scheduler.build_grace_period + 60
    by_name = {h['name']: h for h in hosts}
    domain = {'uuid': uuid, 'name': 'pinned', 'state': 'running',
              'assignment': answer['dest_assignment']}
    report(moving, by_name[answer['source_host']])             # already gone from the source
    report(moving, by_name[answer['dest_host']], [domain])     # arrived
    assert moving.store.get_instance(uuid).state == MIGRATING
    assert moving.store.get_migration(answer['uuid']).active
    assert moving.agents.named('delete_instance') == []


def test_drain_moves_every_instance_off_and_disables_the_host(moving):
    add_hosts(moving, 3)
    uuids = [active(moving, dict(request, name=f"vm-{i}"))
             for i, request in enumerate(busfleet.MIXED * 3)]
    host = moving.store.get_instance(uuids[0]).host
    on_host = {u for u in uuids if moving.store.get_instance(u).host == host}
    progress = call(moving.manager, 'host_drain', host=host, concurrency=2)
    assert progress['host'] == host and progress['total'] == len(on_host)
    status = call(moving.manager, 'drain_status', host=host)
    assert status['done'] and set(status['moved']) == on_host and status['failed'] == {}
    assert moving.store.list_instances(host=host) == []
    assert not moving.store.get_host(host).enabled
    assert all(moving.store.get_instance(u).state == ACTIVE for u in uuids)
    assert overruns(moving) == []


def test_drain_reports_what_could_not_move(moving):
    add_hosts(moving, 2, cells=1, pcpus_per_cell=4)
    first = active(moving, dict(busfleet.PINNED, vcpus=4, name='big'))
    host = moving.store.get_instance(first).host
    active(moving, dict(busfleet.PINNED, vcpus=4, name='filler'))
    call(moving.manager, 'host_drain', host=host)
    status = call(moving.manager, 'drain_status', host=host)
    assert status['moved'] == {} and status['failed'][first].startswith('NoValidHost')


def kill(world, host):
    """``host`` stops reporting; the others keep reporting."""
    world.clock.now += cfg.CONF.service_down_time + 1
    for name in world.manager.state.generations:
        if name != host:
            report(world, busfleet.host(name))
    assert world.manager.check_hosts() == [host]


def test_evacuate_rebuilds_elsewhere_and_frees_the_dead_hosts_claims(moving):
    add_hosts(moving, 3)
    uuids = [active(moving, dict(busfleet.HUGE, name=f"vm-{i}")) for i in range(4)]
    dead = moving.store.get_instance(uuids[0]).host
    failed = '00000000-0000-4000-8000-00000000fa11'    # ERROR there, holding nothing
    moving.store.create_instance(failed, 'failed', busfleet.PINNED,
                                 moving.store.get_instance(uuids[0]).spec, 'ERROR')
    moving.store.update_instance(failed, host=dead)
    on_dead = [u for u in uuids if moving.store.get_instance(u).host == dead]
    with pytest.raises(rpc.BusError, match='is up'):
        call(moving.manager, 'evacuate', host=dead)
    kill(moving, dead)
    builds = len(moving.agents.builds())
    answer = call(moving.manager, 'evacuate', host=dead)
    assert [m['instance_uuid'] for m in answer['migrations']] == on_dead
    assert all(m['kind'] == 'evacuation' and m['status'] == models.DONE
               for m in answer['migrations'])
    assert not any(r[0] == dead for r in moving.store.held_resources())
    for uuid in on_dead:
        record = moving.store.get_instance(uuid)
        assert record.state == BUILDING and record.host != dead
    assert len(moving.agents.builds()) == builds + len(on_dead)
    assert overruns(moving) == []
    # The dead host returns: its copies are stale, the agent is told so.
    stale = call(moving.manager, 'placed_elsewhere', host=dead, instances=on_dead)
    assert stale == {'instances': on_dead}
    moving.clock.now += 30
    report(moving, busfleet.host(dead), [{'uuid': u, 'name': 'x', 'state': 'running'}
                                         for u in on_dead])
    assert sorted(c[1:] for c in moving.agents.calls if c[0] == 'delete_instance') == sorted(
        (dead, u) for u in on_dead)
    assert all(moving.store.get_instance(u).host != dead for u in on_dead)


def test_automatic_evacuation_takes_only_instances_that_opted_in(moving):
    add_hosts(moving, 2)
    ha, plain = active(moving, HA), active(moving, dict(busfleet.PINNED, name='plain'))
    dead = moving.store.get_instance(ha).host
    if moving.store.get_instance(plain).host != dead:
        call(moving.manager, 'migrate', instance=plain,
             host=dead)
    cfg.CONF.set_override('evacuate_on_host_down', True, group='scheduler')
    cfg.CONF.set_override('evacuate_down_time', 100, group='scheduler')
    try:
        kill(moving, dead)                          # down 61 s: not yet
        assert moving.store.get_instance(ha).host == dead
        moving.clock.now += 100
        report(moving, busfleet.host(next(n for n in moving.manager.state.generations
                                          if n != dead)))
        moving.manager.check_hosts()
    finally:
        cfg.CONF.clear_override('evacuate_on_host_down', group='scheduler')
        cfg.CONF.clear_override('evacuate_down_time', group='scheduler')
    assert moving.store.get_instance(ha).host != dead
    assert moving.store.get_instance(plain).host == dead
    assert moving.store.get_instance(plain).state != DELETED


def test_agent_results_for_a_moving_instance_are_ignored(moving):
    add_hosts(moving, 2)
    moving.agents.answer_source = False
    uuid = active(moving)
    answer = call(moving.manager, 'migrate', instance=uuid)    # cold: the source powers off
    call(moving.manager, 'instance_update', instance=uuid, host=answer['source_host'],
         state='STOPPED')
    assert moving.store.get_instance(uuid).state == MIGRATING
    with pytest.raises(rpc.BusError, match='state'):
        call(moving.manager, 'instance_update', instance=uuid, host=answer['source_host'],
             state=MIGRATING)
    call(moving.manager, 'migration_update', migration=answer['uuid'],
         host=answer['source_host'], status='failed', reason='MIGRATION_FAILED: x')
    record = moving.store.get_instance(uuid)
    assert (record.state, record.task, record.host) == (ACTIVE, None, answer['source_host'])
