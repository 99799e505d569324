"""The scheduler store on SQLite and on a real PostgreSQL: hosts, instances, claims."""

import threading
import uuid as uuidlib

import pytest

from scheduler.store import (
    ACTIVE,
    BUILDING,
    DELETED,
    STOPPED,
    ClaimConflict,
    NotFound,
    Store,
    models,
)
from tests.conftest import postgres_schema
from wire.assignment import Assignment, CellAssignment, PciAssignment

HOST = 'compute-1'
PCPUS = tuple(range(8))


def topology(name=HOST, cpus=PCPUS, memory_mb=16384):
    return {'name': name, 'cells': [{'id': 0, 'cpus': list(cpus), 'shared_cpus': [],
                                     'siblings': [], 'memory_mb': memory_mb, 'pages': {}}],
            'pci_devices': [], 'sev_slots': 0, 'secure_boot': False, 'traits': [],
            'aggregates': {}, 'instances': [], 'enabled': True, 'up': True}


def pinned(instance, pcpus, host=HOST, vfs=(), group=None):
    pinning = {vcpu: pcpu for vcpu, pcpu in enumerate(pcpus)}
    cell = CellAssignment(guest_cell=0, host_cell=0, vcpus=tuple(pinning), memory_mb=512,
                          page_size_kb=4, pinning=pinning, shared_cpus=frozenset())
    pcis = tuple(PciAssignment(address=a, host_cell=0, request=f"port:{i}",
                               physical_network='physnet1', iommu_group=group)
                 for i, a in enumerate(vfs))
    return Assignment(host=host, instance=instance, vcpus=len(pcpus), memory_mb=512,
                      cells=(cell,), pci_devices=pcis)


def new_instance(store, name='vm'):
    uuid = str(uuidlib.uuid4())
    store.create_instance(uuid, name, {'name': name}, None, BUILDING)
    return uuid


@pytest.fixture(scope='module')
def postgres_store(postgres_url):
    with postgres_schema(postgres_url, 'kvmfleet_store_test') as url:
        store = Store(url).create_schema()
        yield store
        store.dispose()


@pytest.fixture(params=['sqlite', pytest.param('postgres', marks=pytest.mark.postgres)])
def store(request, tmp_path):
    if request.param == 'sqlite':
        store = Store(f"sqlite:///{tmp_path}/kvmfleet.sqlite").create_schema()
        yield store
        store.dispose()
        return
    store = request.getfixturevalue('postgres_store')
    with store.engine.begin() as conn:   # each test starts from empty tables
        for table in reversed(models.Base.metadata.sorted_tables):
            if table.name != 'schema_version':
                conn.execute(table.delete())
    yield store


def test_schema_is_created_once_with_its_version(store):
    store.create_schema()
    assert store.schema_version() == models.SCHEMA_VERSION


def test_heartbeat_keeps_generation_and_topology_change_bumps_it(store):
    record, created, changed = store.upsert_host(topology(), now=100.0)
    assert (created, changed, record.generation) == (True, True, 0)
    record, created, changed = store.upsert_host(topology(), now=130.0)
    assert (created, changed, record.generation, record.last_heartbeat) == (
        False, False, 0, 130.0)
    record, _, changed = store.upsert_host(topology(cpus=range(6)), now=160.0)
    assert changed and record.generation == 1
    assert store.get_host(HOST).topology['cells'][0]['cpus'] == list(range(6))


def test_claim_bumps_generation_and_records_every_held_resource(store):
    store.upsert_host(topology())
    uuid = new_instance(store)
    assert store.claim(pinned(uuid, (0, 1), vfs=('0000:81:10.0',)), 0) == 1
    assert store.get_host(HOST).generation == 1
    assert sorted(store.held_resources()) == [
        (HOST, 'pci', '0000:81:10.0', uuid), (HOST, 'pcpu', '0', uuid), (HOST, 'pcpu', '1', uuid)]
    held, generation = store.host_allocations(HOST)
    assert generation == 1 and [a.instance for a in held] == [uuid]
    assert store.get_instance(uuid).assignment['cells'][0]['pinning'] == {'0': 0, '1': 1}


def test_stale_generation_is_a_conflict_and_writes_nothing(store):
    store.upsert_host(topology())
    first, second = new_instance(store), new_instance(store)
    store.claim(pinned(first, (0, 1)), 0)
    with pytest.raises(ClaimConflict, match='generation 0 is stale'):
        store.claim(pinned(second, (2, 3)), 0)
    assert store.get_host(HOST).generation == 1
    assert {r[3] for r in store.held_resources()} == {first}


@pytest.mark.parametrize('overlap', [
    pytest.param({'pcpus': (1, 2)}, id='same-pcpu'),
    pytest.param({'pcpus': (4, 5), 'vfs': ('0000:81:10.0',)}, id='same-vf'),
])
def test_database_refuses_double_booking_even_with_a_fresh_generation(store, overlap):
    store.upsert_host(topology())
    first, second = new_instance(store), new_instance(store)
    store.claim(pinned(first, (0, 1), vfs=('0000:81:10.0',)), 0)
    with pytest.raises(ClaimConflict, match='already held'):
        store.claim(pinned(second, overlap['pcpus'], vfs=overlap.get('vfs', ())), 1)
    assert store.get_host(HOST).generation == 1   # the failed claim rolled back whole
    assert {r[3] for r in store.held_resources()} == {first}


def test_one_iommu_group_is_held_by_one_instance(store):
    store.upsert_host(topology())
    first, second = new_instance(store), new_instance(store)
    store.claim(pinned(first, (0,), vfs=('0000:81:10.0', '0000:81:10.1'), group=7), 0)
    assert sorted(r[1:3] for r in store.held_resources()) == [
        ('iommu_group', '7'), ('pci', '0000:81:10.0'), ('pci', '0000:81:10.1'), ('pcpu', '0')]
    with pytest.raises(ClaimConflict, match='already held'):
        store.claim(pinned(second, (1,), vfs=('0000:81:10.2',), group=7), 1)
    assert store.claim(pinned(second, (1,), vfs=('0000:81:10.2',), group=8), 1) == 2


def test_release_frees_the_claim_and_bumps_generation(store):
    store.upsert_host(topology())
    uuid = new_instance(store)
    store.claim(pinned(uuid, (0, 1)), 0)
    assert store.release(uuid) == (HOST, 2)
    assert store.held_resources() == [] and store.release(uuid) is None
    other = new_instance(store)
    assert store.claim(pinned(other, (0, 1)), 2) == 3


def test_claim_on_unknown_host_is_a_conflict(store):
    uuid = new_instance(store)
    with pytest.raises(ClaimConflict):
        store.claim(pinned(uuid, (0,), host='nowhere'), 0)


def test_instances_are_idempotent_per_uuid_and_updatable(store):
    record, created = store.create_instance('u-1', 'web', {'name': 'web'}, None, BUILDING)
    assert created and record.state == BUILDING
    again, created = store.create_instance('u-1', 'other', {'name': 'other'}, None, ACTIVE)
    assert not created and again.name == 'web'
    updated = store.update_instance('u-1', state=ACTIVE, host=HOST, attempts=[{'host': HOST}])
    assert (updated.state, updated.host, updated.attempts) == (ACTIVE, HOST, [{'host': HOST}])
    assert [r.uuid for r in store.list_instances(state=ACTIVE)] == ['u-1']
    assert [r.uuid for r in store.find_instances('web')] == ['u-1']
    with pytest.raises(NotFound):
        store.get_instance('u-2')


def test_finish_builds_activates_only_building_instances_on_their_host(store):
    building = new_instance(store, 'a')
    store.update_instance(building, host=HOST, task='spawning', reason='old')
    elsewhere = new_instance(store, 'b')
    store.update_instance(elsewhere, host='other-host')
    stopped = new_instance(store, 'c')
    store.update_instance(stopped, host=HOST, state=STOPPED)
    done = store.finish_builds([(building, HOST), (elsewhere, HOST), (stopped, HOST),
                                ('no-such-uuid', HOST)], now=4242.0)
    assert done == [True, False, False, False]
    record = store.get_instance(building)
    assert (record.state, record.task, record.reason, record.updated_at) == \
        (ACTIVE, None, None, 4242.0)
    assert store.get_instance(elsewhere).state == BUILDING
    assert store.get_instance(stopped).state == STOPPED
    assert store.finish_builds([]) == []


@pytest.mark.postgres
def test_batches_of_finished_builds_and_cast_marks_never_deadlock(postgres_store):
    # An agent's batch of results and the scheduler's clearing of the cast marks lock
    # several instance rows each, in opposite orders here: in any order of their own,
    # two such transactions deadlocked and PostgreSQL killed one (results lost, builds
    # left BUILDING).  Rows in uuid order: neither ever fails.
    store = postgres_store
    uuids = [new_instance(store, f'dl-{i}') for i in range(40)]
    for uuid in uuids:
        store.update_instance(uuid, host=HOST)
    errors, start = [], threading.Barrier(2)

    def run(work):
        start.wait()
        try:
            for _ in range(15):
                work()
        except Exception as exc:     # the deadlock PostgreSQL reports, if any
            errors.append(exc)

    finish = threading.Thread(target=run, args=(lambda: store.finish_builds(
        [(u, HOST) for u in reversed(uuids)]),))
    cast = threading.Thread(target=run, args=(lambda: store.builds_cast(uuids),))
    finish.start()
    cast.start()
    finish.join(120)
    cast.join(120)
    assert errors == []
    assert {store.get_instance(u).state for u in uuids} == {ACTIVE}


def test_host_enable_disable(store):
    store.upsert_host(topology())
    assert store.set_host_enabled(HOST, False, 'maintenance').disabled_reason == 'maintenance'
    assert store.get_host(HOST).enabled is False
    assert store.set_host_enabled(HOST, True).enabled is True
    with pytest.raises(NotFound):
        store.set_host_enabled('nowhere', True)


def _claim_until_full(store, worker, results, width=2):
    """Claim ``width`` free pCPUs, refitting on fresh state after each conflict."""
    while True:
        held, generation = store.host_allocations(HOST)
        used = set().union(*(a.pinned_pcpus for a in held)) if held else set()
        free = [c for c in PCPUS if c not in used]
        if len(free) < width:
            return
        uuid = new_instance(store, f"w{worker}")
        try:
            store.claim(pinned(uuid, tuple(free[:width])), generation)
            results['claimed'].append(uuid)
        except ClaimConflict:
            results['conflicts'] += 1


def test_concurrent_claims_from_threads_never_double_book(store):
    store.upsert_host(topology())
    results = {'claimed': [], 'conflicts': 0}
    threads = [threading.Thread(target=_claim_until_full, args=(store, n, results))
               for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    held = store.held_resources()
    pcpus = [key for _, kind, key, _ in held if kind == 'pcpu']
    assert sorted(pcpus, key=int) == [str(c) for c in PCPUS]   # each exactly once
    assert len(results['claimed']) == len(PCPUS) // 2
    assert store.get_host(HOST).generation == len(PCPUS) // 2


def test_update_live_instance_changes_nothing_of_a_deleted_instance(store):
    live, deleted = new_instance(store, 'live'), new_instance(store, 'gone')
    store.update_instance(deleted, state=DELETED, task=None, now=10.0)
    record = store.update_live_instance(deleted, state=ACTIVE, task='deleting', now=20.0)
    assert (record.state, record.task, record.updated_at) == (DELETED, None, 10.0)
    assert store.get_instance(deleted).state == DELETED
    record = store.update_live_instance(live, task='deleting', now=20.0)
    assert (record.state, record.task, record.updated_at) == (BUILDING, 'deleting', 20.0)
    with pytest.raises(NotFound):
        store.update_live_instance('no-such-uuid', task='deleting')


@pytest.mark.parametrize('page', [1, 2, 3, 500])
def test_hosts_read_page_by_page_are_every_host_once_by_name(store, page):
    for name in ('h-c', 'h-a', 'h-d', 'h-b'):
        store.upsert_host(topology(name), now=1.0)
    assert list(store.iter_hosts(page=page)) == store.list_hosts()
    assert [record.name for record in store.iter_hosts(page=page)] == [
        'h-a', 'h-b', 'h-c', 'h-d']
