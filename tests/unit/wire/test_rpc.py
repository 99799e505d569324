"""wire.rpc: bounded broker wait, broker addresses, endpoint error translation."""

import socket
import time

import pytest
from oslo_messaging.rpc import dispatcher

from wire import rpc
from wire.errors import FieldError, InvalidInput


@pytest.mark.parametrize('url,addresses', [
    ('rabbit://guest:guest@10.0.0.5:5673/', [('10.0.0.5', 5673)]),
    ('rabbit://u:p@a:5672,u:p@b:5672/vhost', [('a', 5672), ('b', 5672)]),
    ('rabbit://guest:guest@broker/', [('broker', 5672)]),
    ('kombu+memory:////', []),
])
def test_broker_addresses_from_the_transport_url(url, addresses):
    assert rpc.broker_addresses(url) == addresses


def test_wait_for_broker_gives_up_after_its_timeout(caplog):
    with socket.socket() as probe:          # a port nobody listens on
        probe.bind(('127.0.0.1', 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(rpc.BrokerUnavailable, match=f"127.0.0.1:{port} unreachable after"):
        rpc.wait_for_broker(f"rabbit://guest:guest@127.0.0.1:{port}/", timeout=0.5,
                            interval=0.1)
    assert time.monotonic() - started < 3
    assert 'retrying' in caplog.text


def test_wait_for_broker_returns_when_the_port_answers():
    with socket.socket() as server:
        server.bind(('127.0.0.1', 0))
        server.listen()
        port = server.getsockname()[1]
        rpc.wait_for_broker(f"rabbit://guest:guest@127.0.0.1:{port}/", timeout=1)


class Endpoint:
    @rpc.endpoint
    def method(self, ctxt, value):
        if isinstance(value, Exception):
            raise value
        return value


@pytest.mark.parametrize('raised,code', [
    (rpc.invalid('request.vcpus', 'is required'), rpc.INVALID_INPUT),
    (FieldError('host.cells', 'a host has at least one NUMA cell'), rpc.INVALID_INPUT),
    (InvalidInput([FieldError('a', 'x'), FieldError('b', 'y')]), rpc.INVALID_INPUT),
    (rpc.BusError(rpc.NOT_FOUND, 'no such instance'), rpc.NOT_FOUND),
    (RuntimeError('bug'), rpc.INTERNAL_ERROR),
])
def test_endpoint_turns_every_failure_into_an_expected_bus_error(raised, code):
    with pytest.raises(dispatcher.ExpectedException) as caught:
        Endpoint().method({}, value=raised)
    error = caught.value.exc_info[1]
    assert isinstance(error, rpc.BusError) and error.code == code


def test_endpoint_rejects_unknown_arguments_and_passes_results():
    assert Endpoint().method({}, value=3) == 3
    with pytest.raises(dispatcher.ExpectedException) as caught:
        Endpoint().method({}, value=1, extra=2)
    assert caught.value.exc_info[1].code == rpc.INVALID_INPUT
    assert Endpoint.method.exposed is True


@pytest.mark.parametrize('value,kind,message', [
    (True, int, 'expected int, got bool'),
    ('', str, 'must not be empty'),
    ([], dict, 'expected dict, got list'),
])
def test_check_names_the_field_and_the_rule(value, kind, message):
    with pytest.raises(rpc.BusError, match=f"field: {message}"):
        rpc.check(value, kind, 'field')
