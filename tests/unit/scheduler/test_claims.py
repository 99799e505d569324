"""Claims by several schedulers on one store: no pool is ever held beyond its capacity.

Each scheduler here is a real SchedulerManager (engine, warm view, claim path)
over one shared store, SQLite or a real PostgreSQL; only the agents are
recorded instead of cast to.  Afterwards every host of the store is audited
pool by pool (``fitting.audit``).
"""

import logging
import threading

import pytest

from scheduler import claims
from scheduler.engine import EngineSettings, build_engine
from scheduler.fitting import audit
from scheduler.fitting.policy import FitPolicy
from scheduler.manager import SchedulerManager
from scheduler.store import Store
from scheduler.store.database import DatabaseSettings
from scheduler.warm_state import WarmState
from tests import busfleet, notifications
from tests.conftest import postgres_schema as private_schema
from tests.unit.scheduler.test_manager import Clock, RecordingAgents, make_store, postgres_schema  # noqa: F401  (postgres_schema is a fixture)
from wire import rpc

# One cell, 2 shared pCPUs, 1024 pages of 2 MiB: two 1 GiB hugepage guests fill the pool.
POOL_PAGES = 1024
HUGE_FLOATING = {'name': 'huge', 'vcpus': 1, 'memory_mb': 1024,
                 'extra_specs': {'hw:mem_page_size': '2MB'}}


def scheduler(store, clock):
    engine = build_engine(EngineSettings(seed=1, max_alternates=3))
    return SchedulerManager(store, engine, RecordingAgents(), clock=clock)


def report(manager, host):
    manager.report_host.__wrapped__(manager, {}, host=host, instances=[])


def boot(manager, request):
    """The instances a boot claimed (uuid -> host); NoValidHost claims none."""
    try:
        answer = manager.boot.__wrapped__(manager, {}, request=request)
    except rpc.BusError as exc:
        assert exc.code == rpc.NO_VALID_HOST, exc.one_line()
        return {}
    return {i['uuid']: i['host'] for i in answer['instances'] if i['state'] == 'BUILDING'}


def behind(manager):
    """``manager``'s view misses what others claim from now on, as when their claims
    commit between its catch-up and its own claim (the race no catch-up closes)."""
    manager.state.catch_up = list
    return manager


def store_overruns(store):
    """Every pool of every host in the store held beyond capacity, one line each."""
    view = WarmState(store).load()
    lines = []
    for host in view.fleet.hosts():
        lines += [f"{host.name}: {line}" for line in audit.overruns(host.topology, FitPolicy())]
    return lines


@pytest.fixture(params=['sqlite', pytest.param('postgres', marks=pytest.mark.postgres)])
def store(request, tmp_path):
    store = make_store(request, tmp_path, Clock())
    yield store
    store.dispose()


def test_a_sibling_computed_on_a_stale_view_is_refitted_not_claimed(store):
    """Scheduler A's view misses B's claim; A's first sibling conflicts and is refitted on
    the fresh host, and the second sibling, computed on the stale view, must not be
    claimed against the generation the refit left (the pool would hold 1.5x its pages)."""
    clock = Clock()
    first = scheduler(store, clock)
    report(first, busfleet.host('h1', cells=1, pages_2m=POOL_PAGES, vfs_per_cell=0))
    second = scheduler(store, clock)          # loads the host from the store
    assert len(boot(second, HUGE_FLOATING)) == 1
    claimed = boot(behind(first), dict(HUGE_FLOATING, count=2, min_count=1))
    assert len(claimed) == 1
    assert store_overruns(store) == []
    pages = [c.memory_mb for a in store.all_allocations() for c in a.cells]
    assert sum(pages) == 2048          # two 1 GiB guests: the whole pool, not more


def test_sibling_after_a_refit_to_another_host_is_refitted_too(store):
    """The refitted sibling lands where a later sibling was planned: that one conflicts
    and is refitted on fresh state instead of over-filling the host."""
    clock = Clock()
    first = scheduler(store, clock)
    for name in ('h1', 'h2'):
        report(first, busfleet.host(name, cells=1, pages_2m=POOL_PAGES, vfs_per_cell=0))
    second = scheduler(store, clock)
    assert len(boot(second, dict(HUGE_FLOATING, count=2))) == 2   # one per host (spread)
    claimed = boot(behind(first), dict(HUGE_FLOATING, count=4, min_count=1))
    assert len(claimed) == 2
    assert store_overruns(store) == []


def run_schedulers_concurrently(store, schedulers, rounds, request):
    errors = []

    def client(manager):
        try:
            for _ in range(rounds):
                boot(manager, request)
        except Exception as exc:     # surfaced below: a thread cannot fail the test itself
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(m,)) for m in schedulers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert not any(t.is_alive() for t in threads)


@pytest.mark.postgres
@pytest.mark.parametrize('store', ['postgres'], indirect=True)
def test_three_schedulers_multi_create_hugepages_never_overcommit(store):
    """Three schedulers' claim paths at once on PostgreSQL, multi-create 2 MiB guests on
    three small hosts until they are full: every pool audited afterwards."""
    clock = Clock()
    seed = scheduler(store, clock)
    for i in range(3):
        report(seed, busfleet.host(f"h{i}", cells=2, pcpus_per_cell=4, shared_per_cell=2,
                                   memory_mb=8192, pages_2m=1000, vfs_per_cell=1))
    schedulers = [seed] + [scheduler(store, clock) for _ in range(2)]
    request = {'name': 'mc', 'vcpus': 2, 'memory_mb': 512, 'count': 3, 'min_count': 1,
               'extra_specs': {'hw:mem_page_size': '2MB', 'hw:numa_nodes': '1'}}
    run_schedulers_concurrently(store, schedulers, rounds=12, request=request)
    held = store.all_allocations()
    # 6 cells x 1000 pages / 256 pages per guest = 6 x 3 guests; the pools are full.
    assert len(held) == 18
    assert store_overruns(store) == []


@pytest.mark.postgres
def test_schedulers_in_turn_decide_on_fresh_views_and_never_conflict(postgres_url, caplog):
    """The same race with each scheduler on a store of its own taking turns
    ([database] decisions_in_turn): each decision starts from every claim committed
    before it, so none conflicts, and the pools still fill exactly."""
    caplog.set_level(logging.INFO, logger='scheduler.claims')
    clock = Clock()
    with private_schema(postgres_url, 'kvmfleet_claims_turns') as url:
        stores = [Store(url, clock=clock, settings=DatabaseSettings(decisions_in_turn=True))
                  for _ in range(3)]
        try:
            stores[0].create_schema()
            seed = scheduler(stores[0], clock)
            for i in range(3):
                report(seed, busfleet.host(f"h{i}", cells=2, pcpus_per_cell=4,
                                           shared_per_cell=2, memory_mb=8192, pages_2m=1000,
                                           vfs_per_cell=1))
            schedulers = [seed] + [scheduler(store, clock) for store in stores[1:]]
            request = {'name': 'mc', 'vcpus': 2, 'memory_mb': 512, 'count': 3, 'min_count': 1,
                       'extra_specs': {'hw:mem_page_size': '2MB', 'hw:numa_nodes': '1'}}
            run_schedulers_concurrently(stores[0], schedulers, rounds=12, request=request)
            assert len(stores[0].all_allocations()) == 18
            assert store_overruns(stores[0]) == []
            assert 'Claim conflict' not in caplog.text
        finally:
            for store in stores:
                store.dispose()


def hugepage_domain(uuid, host, pages):
    assignment = {'host': host, 'instance': uuid, 'vcpus': 1, 'memory_mb': pages * 2,
                  'cells': [{'guest_cell': 0, 'host_cell': 0, 'vcpus': [0],
                             'memory_mb': pages * 2, 'page_size_kb': 2048, 'pinning': {},
                             'shared_cpus': [8, 9]}],
                  'shared_cpus': [8, 9]}
    return {'uuid': uuid, 'name': uuid, 'state': 'running', 'assignment': assignment}


def test_a_reported_domain_is_adopted_only_if_the_pools_hold_it(store):
    """Adoption claims what a domain's metadata says: it is checked against the pools
    (no UNIQUE row guards hugepages), and flagged rather than over-filling one."""
    manager = scheduler(store, Clock())
    host = busfleet.host('h1', cells=1, pages_2m=POOL_PAGES, vfs_per_cell=0)
    domains = [hugepage_domain('fits', 'h1', 768), hugepage_domain('over', 'h1', 512)]
    answer = manager.report_host.__wrapped__(manager, {}, host=host, instances=domains)
    assert answer['adopted'] == ['fits']
    [flag] = answer['flagged']
    assert flag['uuid'] == 'over'
    assert flag['reason'] == ('cannot adopt: does not fit the host: host cell 0: 512 pages '
                              'of 2048 KiB with 768 already held, the pool has 1024')
    assert store_overruns(store) == []


def test_schedulers_agree_on_liveness_and_learn_each_others_claims(store):
    """Host reports reach one scheduler; the other follows the store's heartbeats
    (never marks a reporting host down), its claims, and says host.up when it returns."""
    clock = Clock()
    first = scheduler(store, clock)
    host = busfleet.host('h1', cells=1, pages_2m=POOL_PAGES, vfs_per_cell=0)
    report(first, host)
    notifier, notes = notifications.capturing()
    second = SchedulerManager(store, build_engine(EngineSettings(seed=1)), RecordingAgents(),
                              notifier=notifier, clock=clock)
    for _ in range(4):                     # 4 x 40 s: reports only ever reach ``first``
        clock.now += 40
        report(first, host)
        assert second.check_hosts() == []
    boot(first, HUGE_FLOATING)
    second.check_hosts()
    hosts = [second.hosts.__wrapped__(second, {}), first.hosts.__wrapped__(first, {})]
    assert hosts[0] == hosts[1]
    assert hosts[0]['hosts'][0]['cells'][0]['pages'] == {'2048': {'total': 1024, 'used': 512,
                                                                  'free': 512}}
    clock.now += 61                        # silence: both see it down
    assert second.check_hosts() == ['h1'] and first.check_hosts() == ['h1']
    report(first, host)
    assert second.check_hosts() == []
    assert [(m['event_type'], m['payload']['kvmfleet_object.data']['host'])
            for m in notes.messages] == [('host.down', 'h1'), ('host.up', 'h1')]


def test_each_decision_sees_the_other_schedulers_claims_and_releases(store, caplog):
    """No refit: a scheduler's next decision catches up with the claims and releases the
    other made (no liveness check in between), and both answer ``hosts`` alike."""
    caplog.set_level(logging.INFO, logger='scheduler.claims')
    clock = Clock()
    first = scheduler(store, clock)
    report(first, busfleet.host('h1', cells=1, pcpus_per_cell=4, vfs_per_cell=0))
    second = scheduler(store, clock)
    pinned = busfleet.PINNED                          # 2 dedicated pCPUs
    by_second = boot(second, pinned)
    by_first = boot(first, pinned)                    # on the 2 pCPUs left
    assert len(by_second) == len(by_first) == 1
    assert boot(second, pinned) == {}                 # full, and it knows it
    claims.release_claim(first.state, next(iter(by_first)))
    assert len(boot(second, pinned)) == 1             # the release seen at once
    assert 'Claim conflict' not in caplog.text
    assert store_overruns(store) == []
    answers = [m.hosts.__wrapped__(m, {}) for m in (first, second)]
    assert answers[0] == answers[1]
    assert answers[0]['hosts'][0]['cells'][0]['pcpus']['used'] == 4
