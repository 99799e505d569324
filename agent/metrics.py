"""The agent's Prometheus metrics (docs/metrics.md).

Builds are counted by the manager's hooks (one per way a build ends),
failed libvirt calls at the one libvirt seam (agent.libvirt_conn's error
observers), RPC messages by wire.rpc's dispatcher.  Domains by state are
read at scrape time from what each host last reported (no libvirt call on
a scrape).  Every label value is one of a fixed set: build reasons are the
driver's codes or the bus error codes, libvirt calls the seam's call names.
"""

import collections
import functools

import prometheus_client as prom
from oslo_config import cfg
from prometheus_client.core import GaugeMetricFamily

from agent import libvirt_conn
from wire import metrics as wire_metrics
from wire import rpc
from wire.errors import FieldError, InvalidInput

PREFIX = 'kvmfleet_agent_'
DOMAIN_STATES = frozenset(libvirt_conn.DOMAIN_STATES.values())


def refusal_code(exc):
    """The reason label of a build refused before the driver ran (a bus error code)."""
    if isinstance(exc, rpc.BusError):
        return exc.code
    return rpc.INVALID_INPUT if isinstance(exc, (FieldError, InvalidInput)) \
        else rpc.INTERNAL_ERROR


class AgentMetrics:
    """The agent's counters, histograms and domain gauges in a private registry."""

    def __init__(self, registry=None):
        self.registry = registry or wire_metrics.new_registry()
        histogram = functools.partial(prom.Histogram, registry=self.registry,
                                      buckets=wire_metrics.LATENCY_BUCKETS)
        self.builds = prom.Counter(PREFIX + 'builds', 'Builds by result (ok, error) and '
                                   'reason (the failure code; none when ok).',
                                   ['result', 'reason'], registry=self.registry)
        self.build_seconds = histogram(PREFIX + 'build_seconds', 'Time of one build: '
                                       'verify, files, define, start and wait for running.')
        self.launch_seconds = histogram(PREFIX + 'launch_seconds', 'Time from starting a '
                                        'domain to libvirt reporting it running.')
        self.libvirt_errors = prom.Counter(PREFIX + 'libvirt_errors', 'libvirt calls that '
                                           'failed, by call.', ['call'],
                                           registry=self.registry)
        self.rpc = wire_metrics.RpcMetrics(self.registry, PREFIX)
        self._managers = []
        self.registry.register(DomainCollector(lambda: self._managers))

    def build_finished(self, result):
        """A build the driver ran (agent.driver.LaunchResult)."""
        self.builds.labels('ok' if result.ok else 'error', result.reason or 'none').inc()
        self.build_seconds.observe(result.elapsed_s)
        if result.launch_s is not None:
            self.launch_seconds.observe(result.launch_s)

    def build_refused(self, exc):
        """A build refused or failed before (or by a bug in) the driver."""
        self.builds.labels('error', refusal_code(exc)).inc()

    def libvirt_error(self, call):
        self.libvirt_errors.labels(call).inc()

    def rpc_observer(self, method, code, seconds):
        self.rpc.observe(method, code, seconds)

    def watch(self, managers):
        """Count the builds of ``managers``, their domains and this process's libvirt errors."""
        self._managers = list(managers)
        for manager in self._managers:
            manager.metrics = self
        libvirt_conn.ERROR_OBSERVERS.append(self.libvirt_error)

    def unwatch(self):
        if self.libvirt_error in libvirt_conn.ERROR_OBSERVERS:
            libvirt_conn.ERROR_OBSERVERS.remove(self.libvirt_error)


class NoMetrics:
    """Metrics off: the hooks do nothing."""

    registry = None

    def build_finished(self, result):
        pass

    def build_refused(self, exc):
        pass

    def watch(self, managers):
        pass

    def unwatch(self):
        pass


NO_METRICS = NoMetrics()


def from_conf(conf=cfg.CONF):
    """AgentMetrics when ``[metrics] enabled``, else NO_METRICS."""
    return AgentMetrics() if conf[wire_metrics.GROUP].enabled else NO_METRICS


def domain_counts(managers):
    """Domains by state over ``managers``, as each last reported them."""
    counts = collections.Counter()
    for manager in managers:
        for state, count in getattr(manager, 'domain_states', {}).items():
            counts[wire_metrics.bounded_label(state, DOMAIN_STATES)] += count
    return counts


class DomainCollector:
    """``kvmfleet_agent_domains{state}`` from the managers' last reports."""

    def __init__(self, managers):
        self.managers = managers

    def describe(self):
        return []

    def collect(self):
        family = GaugeMetricFamily(PREFIX + 'domains', 'libvirt domains of the agent\'s '
                                   'host(s) by state, as last reported.', labels=['state'])
        counts = domain_counts(self.managers())
        for state in sorted(DOMAIN_STATES | set(counts)):
            family.add_metric([state], counts.get(state, 0))
        yield family
