"""The scheduler's counters: decisions, NoValidHost reasons, claims, reschedules and store
latency, moved by a real SchedulerManager on a SQLite store (no bus: the endpoints are
called directly), and the pure helpers behind them."""

import pytest
from oslo_config import cfg
from oslo_messaging.rpc import dispatcher as rpc_dispatcher

from scheduler import metrics
from scheduler.claims import Claimed
from scheduler.engine import EngineSettings, build_engine
from scheduler.engine.explain import Explanation
from scheduler.manager import SchedulerManager
from scheduler.store import ERROR, ClaimConflict, Store
from tests import busfleet
from tests.unit.scheduler.test_manager import Clock, RecordingAgents

P = 'kvmfleet_scheduler_'


def value(scheduler_metrics, name, **labels):
    return scheduler_metrics.registry.get_sample_value(P + name, labels) or 0


@pytest.fixture
def manager(tmp_path):
    clock = Clock()
    collected = metrics.SchedulerMetrics()
    store = collected.timed_store(
        Store(f"sqlite:///{tmp_path}/s.sqlite", clock=clock).create_schema())
    manager = SchedulerManager(store, build_engine(EngineSettings(seed=1, max_alternates=3)),
                               RecordingAgents(), clock=clock)
    manager.metrics = collected
    collected.watch(manager)
    for host in busfleet.fleet(2):
        manager.report_host({}, host=host, instances=[])
    yield manager
    store.dispose()


def test_a_boot_counts_a_decision_a_claim_and_store_calls_and_uses_pcpus(manager):
    collected = manager.metrics
    free_before = value(collected, 'fleet_free_pcpus')
    manager.boot({}, request=busfleet.PINNED)
    assert value(collected, 'decisions_total', outcome='placed') == 1
    assert value(collected, 'decision_seconds_count') == 1
    assert value(collected, 'claims_total', result='claimed') == 1
    assert value(collected, 'store_seconds_count', operation='claim') == 1
    assert value(collected, 'store_seconds_count', operation='upsert_host') == 2
    assert value(collected, 'fleet_free_pcpus') == free_before - 2
    assert value(collected, 'hosts', state='up') == 2


def test_no_valid_host_is_counted_with_the_reason_most_hosts_gave(manager):
    with pytest.raises(rpc_dispatcher.ExpectedException):
        manager.boot({}, request=dict(busfleet.PINNED, vcpus=64))
    collected = manager.metrics
    assert value(collected, 'decisions_total', outcome='no_valid_host') == 1
    assert value(collected, 'no_valid_host_total', reason='NUMA_CELL_NO_FREE_PCPUS') == 1


def test_a_failed_build_counts_a_reschedule_then_an_exhausted_one(manager):
    cfg.CONF.set_override('max_attempts', 2, group='scheduler')
    try:
        uuid = manager.boot({}, request=busfleet.PINNED)['instances'][0]['uuid']
        for reason in ('libvirt said no', 'disk full'):
            host = manager.store.get_instance(uuid).host
            manager.instance_update({}, instance=uuid, host=host, state=ERROR, reason=reason)
    finally:
        cfg.CONF.clear_override('max_attempts', group='scheduler')
    assert value(manager.metrics, 'reschedules_total', result='placed') == 1
    assert value(manager.metrics, 'reschedules_total', result='exhausted') == 1


class ConflictingStore:
    """Stands in for a Store whose first claim conflicts."""

    def __init__(self):
        self.calls = 0
        self.engine = 'not a method'

    def claim(self, *args, **kwargs):
        self.calls += 1
        if self.calls == 1:
            raise ClaimConflict('generation moved')
        return 7


def test_the_timed_store_counts_claims_and_conflicts_and_passes_attributes_through():
    collected = metrics.SchedulerMetrics()
    store = collected.timed_store(ConflictingStore())
    with pytest.raises(ClaimConflict):
        store.claim('a')
    assert store.claim('a') == 7
    assert store.engine == 'not a method'
    assert value(collected, 'claims_total', result='conflict') == 1
    assert value(collected, 'claims_total', result='claimed') == 1
    assert value(collected, 'store_seconds_count', operation='claim') == 2


def claimed(assignments=(), failed=None, reasons=None, hosts=2):
    explanation = None if reasons is None else Explanation(hosts=hosts, reasons=reasons,
                                                           nearest=[])
    return Claimed(list(assignments), {}, failed or {}, explanation)


@pytest.mark.parametrize('result,needed,expected', [
    (claimed(['a']), 1, 'placed'),
    (claimed(['a'], failed={'u2': 'no valid host'}), 1, 'partial'),
    (claimed(['a'], failed={'u2': 'no valid host'}), 2, 'no_valid_host'),
    (claimed([], failed={'u1': 'no valid host'}), 1, 'no_valid_host'),
])
def test_decision_outcome(result, needed, expected):
    assert metrics.decision_outcome(result, needed) == expected


@pytest.mark.parametrize('result,expected', [
    (claimed(reasons={'HOST_RAM': 1, 'NUMA_CELL_NO_FREE_PCPUS': 3}), 'NUMA_CELL_NO_FREE_PCPUS'),
    (claimed(reasons={}, hosts=0), 'NO_HOSTS'),
    (claimed(failed={'u1': 'claim kept conflicting after 5 refits'}), 'CLAIM_CONFLICT'),
    (claimed(failed={'u1': 'no valid host'}), metrics.NO_REASON),
])
def test_no_valid_host_reason(result, expected):
    assert metrics.no_valid_host_reason(result) == expected


def test_metrics_off_wrap_nothing():
    store = object()
    assert metrics.NO_METRICS.timed_store(store) is store
    assert metrics.from_conf() is metrics.NO_METRICS      # [metrics] enabled is off by default
