"""Prometheus metrics: the ``[metrics]`` options and the ``/metrics`` HTTP exporter.

Each service keeps its metrics in its own ``CollectorRegistry`` (never
prometheus_client's global one), so two services in one process, or the
tests, never share a counter.  The exporter is off unless ``[metrics]
enabled``; it binds ``bind_host`` (127.0.0.1 by default: the numbers describe
the fleet, put a proxy or a firewall rule in front to expose them) on the
service's own port, so a scheduler and an agent on one machine can share a
config file.  Names, types and labels of every metric: docs/metrics.md.
"""

import logging

import prometheus_client
from oslo_config import cfg

LOG = logging.getLogger(__name__)
# No ``_created`` series beside each counter and histogram: half the series, and a
# service's start time is better read from its logs.  (A process-wide switch.)
prometheus_client.disable_created_metrics()
GROUP = 'metrics'
DEFAULT_PORTS = {'scheduler': 9580, 'agent': 9581}

metrics_opts = [
    cfg.BoolOpt('enabled', default=False,
                help='Serve Prometheus metrics over HTTP (docs/metrics.md). Off: no port '
                     'is opened and nothing is counted.'),
    cfg.HostAddressOpt('bind_host', default='127.0.0.1',
                       help='Address the metrics HTTP server listens on.'),
    cfg.PortOpt('scheduler_port', default=DEFAULT_PORTS['scheduler'],
                help='Port of kvmfleet-scheduler\'s metrics.'),
    cfg.PortOpt('agent_port', default=DEFAULT_PORTS['agent'],
                help='Port of kvmfleet-agent\'s metrics.'),
]
cfg.CONF.register_opts(metrics_opts, group=GROUP)

# Latency buckets (seconds) shared by the histograms: 1 ms .. 60 s.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                   10.0, 30.0, 60.0)


def list_opts():
    return [(GROUP, metrics_opts)]


def new_registry():
    """A private registry (no process or platform collectors: one service, one set)."""
    return prometheus_client.CollectorRegistry(auto_describe=True)


class Exporter:
    """The HTTP server of one registry; ``start`` binds (OSError if the port is taken)."""

    def __init__(self, registry, host, port):
        self.registry = registry
        self.host = host
        self.port = port
        self._server = None
        self._thread = None

    def start(self):
        try:
            self._server, self._thread = prometheus_client.start_http_server(
                self.port, addr=self.host, registry=self.registry)
        except OSError as exc:
            raise OSError(exc.errno, f"[metrics] cannot listen on {self.host}:{self.port}: "
                                     f"{exc.strerror}") from exc
        self.port = self._server.server_port     # the real one when asked for 0
        LOG.info('Serving metrics on http://%s:%d/metrics', self.host, self.port)
        return self

    def stop(self):
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
        self._server = None


def start_exporter(service, registry, conf=cfg.CONF):
    """The started Exporter of ``service`` ('scheduler' or 'agent'); None when metrics are
    off (``registry`` None).  OSError when the port cannot be bound."""
    options = conf[GROUP]
    if registry is None or not options.enabled:
        return None
    return Exporter(registry, options.bind_host, options[f'{service}_port']).start()


class RpcMetrics:
    """``<prefix>rpc_calls_total`` and ``<prefix>rpc_seconds``, fed by wire.rpc.observe."""

    def __init__(self, registry, prefix):
        self.calls = prometheus_client.Counter(
            prefix + 'rpc_calls', 'RPC messages handled, by method and outcome (ok or the '
            'error code).', ['method', 'code'], registry=registry)
        self.seconds = prometheus_client.Histogram(
            prefix + 'rpc_seconds', 'Time to handle one RPC message, by method.', ['method'],
            registry=registry, buckets=LATENCY_BUCKETS)

    def observe(self, method, code, seconds):
        self.calls.labels(method, code).inc()
        self.seconds.labels(method).observe(seconds)


def bounded_label(value, allowed, other='other'):
    """``value`` if it is one of ``allowed``, else ``other``: label values come from
    messages anyone on the bus may send, and each new value is a new series."""
    return value if value in allowed else other
