"""wire.metrics and the RPC observer: every message counted once by method and outcome (on
the in-memory bus, through the real dispatcher), and the /metrics HTTP exporter."""

import socket
import urllib.request

import prometheus_client
import pytest
from oslo_config import cfg

from wire import metrics, rpc

TOPIC = 'kvmfleet-metrics-unit'


class Endpoint:
    target = rpc.messaging.Target(version='1.0')

    @rpc.endpoint
    def echo(self, ctxt, value):
        return value

    @rpc.endpoint
    def missing(self, ctxt):
        raise rpc.BusError(rpc.NOT_FOUND, 'nothing here')

    def helper(self):        # not exposed
        return None


@pytest.fixture(scope='module')
def observed():
    cfg.CONF.set_override('transport_url', 'kombu+memory:////')
    registry = metrics.new_registry()
    rpc_metrics = metrics.RpcMetrics(registry, 'kvmfleet_test_')
    server = rpc.get_rpc_server(TOPIC, 'unit', [Endpoint()])
    rpc.observe([server], rpc_metrics.observe)
    server.start()
    client = rpc.get_rpc_client(TOPIC, '1.0', timeout=10)
    yield registry, client
    server.stop()
    server.wait()
    rpc.reset_transports()
    cfg.CONF.clear_override('transport_url')


def calls(registry, method, code):
    return registry.get_sample_value('kvmfleet_test_rpc_calls_total',
                                     {'method': method, 'code': code}) or 0


def test_calls_are_counted_by_method_and_outcome(observed):
    registry, client = observed
    assert client.call({}, 'echo', value=3) == 3
    with pytest.raises(rpc.BusError):
        client.call({}, 'missing')
    with pytest.raises(rpc.BusError):
        client.call({}, 'echo')                 # argument missing: refused by the envelope
    assert calls(registry, 'echo', 'ok') == 1
    assert calls(registry, 'missing', rpc.NOT_FOUND) == 1
    assert calls(registry, 'echo', rpc.INVALID_INPUT) == 1
    assert registry.get_sample_value('kvmfleet_test_rpc_seconds_count',
                                     {'method': 'echo'}) == 2


def test_a_method_no_endpoint_exposes_is_counted_as_other(observed):
    registry, client = observed
    for name in ('helper', 'no_such_method_abc'):
        with pytest.raises(rpc.BusError):
            client.call({}, name)
    assert calls(registry, 'other', rpc.NO_SUCH_METHOD) == 2
    assert calls(registry, 'no_such_method_abc', rpc.NO_SUCH_METHOD) == 0


def test_exposed_methods_are_the_endpoint_methods_and_the_ping():
    assert rpc.exposed_methods([Endpoint()]) == {'echo', 'missing', 'oslo_rpc_server_ping'}


def free_port():
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


def test_the_exporter_serves_its_registry_and_closes_the_port_on_stop():
    registry = metrics.new_registry()
    prometheus_client.Counter('kvmfleet_test_things', 'Things.', registry=registry).inc()
    exporter = metrics.Exporter(registry, '127.0.0.1', free_port()).start()
    try:
        url = f"http://127.0.0.1:{exporter.port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as answer:
            text = answer.read().decode()
    finally:
        exporter.stop()
    assert 'kvmfleet_test_things_total 1.0' in text
    assert 'python_gc' not in text           # a private registry: no global collectors
    with pytest.raises(ConnectionRefusedError):      # nobody listens any more
        socket.create_connection(('127.0.0.1', exporter.port), timeout=5).close()


def test_no_exporter_unless_enabled():
    registry = metrics.new_registry()
    assert cfg.CONF.metrics.enabled is False and cfg.CONF.metrics.bind_host == '127.0.0.1'
    assert metrics.start_exporter('scheduler', registry) is None
    assert metrics.start_exporter('agent', None) is None


def test_bounded_label():
    assert metrics.bounded_label('running', {'running'}) == 'running'
    assert metrics.bounded_label('x' * 300, {'running'}) == 'other'
