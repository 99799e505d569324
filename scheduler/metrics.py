"""The scheduler's Prometheus metrics (docs/metrics.md).

Counters and histograms move where things happen: a decision (the manager's
one hook per boot), a reschedule, every RPC message (wire.rpc's dispatcher,
once for all methods), every store call (``TimedStore``, which also counts
claims and their conflicts).  Capacity gauges are not kept up to date on
every decision: ``FleetCollector`` computes them at scrape time from the
warm view's per-host summaries, which the engine keeps anyway.

Cardinality stays bounded at any fleet size: per-host and per-cell gauges are
exported only while the fleet has at most ``[metrics]
per_host_gauges_max_hosts`` hosts (and ``per_host_gauges`` is on); beyond
that only fleet-wide and per-aggregate totals are (a few series per
aggregate, page size and physical network).  Label values that come from
the bus (RPC method names) are checked against what the service exposes.
"""

import dataclasses
import functools
import time

import prometheus_client as prom
from oslo_config import cfg

from scheduler.metrics_fleet import PREFIX, FleetCollector
from scheduler.store import ClaimConflict
from wire import metrics as wire_metrics

NO_REASON = 'UNKNOWN'

scheduler_metrics_opts = [
    cfg.BoolOpt('per_host_gauges', default=True,
                help='Export free pCPUs, pages and VFs per host and per NUMA cell (as long '
                     'as the fleet has at most per_host_gauges_max_hosts hosts).'),
    cfg.IntOpt('per_host_gauges_max_hosts', default=1000, min=0,
               help='Largest fleet whose per-host and per-cell gauges are exported (about '
                    '15 series per host); a larger fleet exports only fleet-wide and '
                    'per-aggregate totals, so a scrape stays small at 10,000 hosts.'),
]
cfg.CONF.register_opts(scheduler_metrics_opts, group=wire_metrics.GROUP)


def list_opts():
    return [(wire_metrics.GROUP, scheduler_metrics_opts)]


@dataclasses.dataclass(frozen=True)
class GaugeSettings:
    per_host: bool = True
    max_hosts: int = 1000


def gauge_settings_from_conf(conf=cfg.CONF):
    options = conf[wire_metrics.GROUP]
    return GaugeSettings(options.per_host_gauges, options.per_host_gauges_max_hosts)


def decision_outcome(claimed, needed):
    """'placed', 'partial' (some instances failed, at least ``needed`` claimed) or
    'no_valid_host'."""
    if len(claimed.assignments) < needed:
        return 'no_valid_host'
    return 'partial' if claimed.failed else 'placed'


def no_valid_host_reason(claimed):
    """The reason most hosts gave; NO_HOSTS for an empty fleet; CLAIM_CONFLICT when
    placement succeeded but the claims kept conflicting."""
    explanation = claimed.explanation
    if explanation is not None and explanation.dominant_reason:
        return explanation.dominant_reason
    if explanation is not None and explanation.hosts == 0:
        return 'NO_HOSTS'
    if any('conflict' in why for why in claimed.failed.values()):
        return 'CLAIM_CONFLICT'
    return NO_REASON


class SchedulerMetrics:
    """The scheduler's counters and histograms in a private registry."""

    def __init__(self, registry=None):
        self.registry = registry or wire_metrics.new_registry()
        counter = functools.partial(prom.Counter, registry=self.registry)
        histogram = functools.partial(prom.Histogram, registry=self.registry,
                                      buckets=wire_metrics.LATENCY_BUCKETS)
        self.decisions = counter(PREFIX + 'decisions', 'Boot decisions (placement + claims) '
                                 'by outcome.', ['outcome'])
        self.decision_seconds = histogram(PREFIX + 'decision_seconds',
                                          'Time of one boot decision: placement and claims.')
        self.no_valid_host = counter(PREFIX + 'no_valid_host', 'Boot decisions that found '
                                     'no host, by the reason most hosts gave.', ['reason'])
        self.claims = counter(PREFIX + 'claims', 'Claims tried in the store, by result '
                              '(a conflict is followed by a refit on fresh state).',
                              ['result'])
        self.reschedules = counter(PREFIX + 'reschedules', 'Builds an agent failed, by '
                                   'what followed: placed on an alternate or exhausted.',
                                   ['result'])
        self.rpc = wire_metrics.RpcMetrics(self.registry, PREFIX)
        self.store_seconds = histogram(PREFIX + 'store_seconds', 'Time of one store call, '
                                       'by operation.', ['operation'])

    def decided(self, claimed, needed, seconds):
        """One boot decision (``claims.Claimed``; ``needed``: its min count)."""
        outcome = decision_outcome(claimed, needed)
        self.decisions.labels(outcome).inc()
        self.decision_seconds.observe(seconds)
        if outcome == 'no_valid_host':
            self.no_valid_host.labels(no_valid_host_reason(claimed)).inc()

    def rescheduled(self, placed):
        self.reschedules.labels('placed' if placed else 'exhausted').inc()

    def rpc_observer(self, method, code, seconds):
        self.rpc.observe(method, code, seconds)

    def store_call(self, operation, seconds, error=None):
        self.store_seconds.labels(operation).observe(seconds)
        if operation == 'claim':
            result = 'claimed' if error is None else (
                'conflict' if isinstance(error, ClaimConflict) else 'error')
            self.claims.labels(result).inc()

    def timed_store(self, store):
        return TimedStore(store, self.store_call)

    def watch(self, manager, settings=None):
        """Export ``manager``'s fleet gauges (FleetCollector) from this registry."""
        self.registry.register(FleetCollector(manager_snapshot(manager),
                                              settings or GaugeSettings()))


class NoMetrics:
    """Metrics off: every hook does nothing, the store is not wrapped."""

    registry = None

    def decided(self, claimed, needed, seconds):
        pass

    def rescheduled(self, placed):
        pass

    def timed_store(self, store):
        return store

    def watch(self, manager, settings=None):
        pass


NO_METRICS = NoMetrics()


def from_conf(conf=cfg.CONF):
    """SchedulerMetrics when ``[metrics] enabled``, else NO_METRICS."""
    return SchedulerMetrics() if conf[wire_metrics.GROUP].enabled else NO_METRICS


class TimedStore:
    """The store, each public method call timed and reported to ``observe``."""

    def __init__(self, store, observe):
        self._store = store
        self._observe = observe
        self._wrapped = {}

    def __getattr__(self, name):
        value = getattr(self._store, name)
        if name.startswith('_') or not callable(value) or \
                not callable(getattr(type(self._store), name, None)):
            return value
        if name not in self._wrapped:
            self._wrapped[name] = functools.partial(self._timed, name)
        return self._wrapped[name]

    def _timed(self, name, *args, **kwargs):
        started = time.perf_counter()
        try:
            result = getattr(self._store, name)(*args, **kwargs)
        except Exception as exc:
            self._observe(name, time.perf_counter() - started, exc)
            raise
        self._observe(name, time.perf_counter() - started)
        return result


def manager_snapshot(manager):
    """A function returning (host states, up, enabled) copied under the manager's lock;
    HostStates are immutable, so the gauges are computed outside it."""
    def snapshot():
        with manager.lock:
            state = manager.state
            return list(state.fleet.hosts()), dict(state.up), dict(state.enabled)
    return snapshot
