"""``[DEFAULT] rpc_ping_enabled`` answers oslo.messaging's ping on the in-process bus;
the access policy still refuses every method not marked ``@endpoint``."""

import uuid

import oslo_messaging as messaging
import pytest
from oslo_config import cfg

from wire import rpc


class Endpoint:
    @rpc.endpoint
    def echo(self, ctxt, value):
        return value

    def internal(self, ctxt):           # not marked: never callable over the bus
        return 'leaked'


def assert_refused(rpc_client, method):
    """The server answers that it has no such method (oslo.messaging's error, or the
    BusError of a guarding dispatcher)."""
    with pytest.raises((messaging.RemoteError, rpc.BusError)) as caught:
        rpc_client.call({}, method)
    error = caught.value
    assert getattr(error, 'exc_type', getattr(error, 'code', None)) == 'NoSuchMethod'


@pytest.fixture(params=[True, False], ids=['ping-enabled', 'ping-disabled'])
def client(request):
    cfg.CONF.set_override('transport_url', 'kombu+memory:////')
    cfg.CONF.set_override('rpc_ping_enabled', request.param)
    topic = f"ping-test-{uuid.uuid4().hex[:8]}"
    server = rpc.get_rpc_server(topic, 'host-1', [Endpoint()])
    server.start()
    yield request.param, rpc.get_rpc_client(topic, '1.0', timeout=5)
    server.stop()
    server.wait()
    rpc.reset_transports()
    cfg.CONF.clear_override('rpc_ping_enabled')
    cfg.CONF.clear_override('transport_url')


def test_ping_answers_only_when_enabled(client):
    enabled, rpc_client = client
    if enabled:
        assert rpc_client.call({}, 'oslo_rpc_server_ping') == 'pong'
    else:
        assert_refused(rpc_client, 'oslo_rpc_server_ping')


def test_marked_methods_answer_and_unmarked_ones_stay_refused(client):
    _, rpc_client = client
    assert rpc_client.call({}, 'echo', value=3) == 3
    assert_refused(rpc_client, 'internal')


def test_the_policy_allows_only_the_ping_method_of_the_ping_endpoint():
    policy = rpc.ExposedOrPingPolicy()
    ping = messaging.rpc.dispatcher.PingEndpoint()
    assert policy.is_allowed(ping, 'oslo_rpc_server_ping')
    assert not policy.is_allowed(ping, '__init__')
    assert policy.is_allowed(Endpoint(), 'echo')
    assert not policy.is_allowed(Endpoint(), 'internal')
