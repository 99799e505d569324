"""wire.rpc.GuardedDispatcher: every malformed envelope is a BusError before oslo.messaging
reads it, answered in one rate-limited log line without traceback."""

import logging

import oslo_messaging as messaging
import pytest
from oslo_config import cfg
from oslo_messaging.rpc import dispatcher

from wire import ratelimit, rpc


class Endpoint:
    target = messaging.Target(version='1.1')

    @rpc.endpoint
    def show(self, ctxt, instance, verbose=False):
        return {'instance': instance, 'verbose': verbose}

    def check_hosts(self):      # public but not an endpoint
        return 'called'


class Raw:
    def __init__(self, body):
        self.body = body


class Incoming:
    def __init__(self, message, ctxt=None, client_timeout=None, body=None):
        self.message = message
        self.ctxt = {} if ctxt is None else ctxt
        self.client_timeout = client_timeout
        if body is not None:
            self.message = type('Message', (dict,), {})(message)
            self.message._raw_message = Raw(body)


def dispatch(message, **kwargs):
    guard = rpc.GuardedDispatcher([Endpoint()], None, messaging.ExplicitRPCAccessPolicy)
    return guard.dispatch(Incoming(message, **kwargs))


def refusal(message, **kwargs):
    with pytest.raises(dispatcher.ExpectedException) as caught:
        dispatch(message, **kwargs)
    error = caught.value.exc_info[1]
    assert isinstance(error, rpc.BusError)
    return error


GOOD = {'method': 'show', 'version': '1.0', 'args': {'instance': 'vm-1'}}


@pytest.mark.parametrize('change,code,text', [
    ({'method': None}, rpc.INVALID_INPUT, 'method: expected a method name (str), got NoneType'),
    ({'method': ['show']}, rpc.INVALID_INPUT, 'method: expected a method name (str), got list'),
    ({'method': '_find'}, rpc.NO_SUCH_METHOD, "method: '_find' is not a method name"),
    ({'method': '__init__'}, rpc.NO_SUCH_METHOD, "method: '__init__' is not a method name"),
    ({'method': 'x' * 5000}, rpc.NO_SUCH_METHOD, 'is not a method name'),
    ({'method': 'check_hosts'}, rpc.NO_SUCH_METHOD,
     'method: check_hosts is not a method of this service'),
    ({'method': 'target'}, rpc.NO_SUCH_METHOD, 'method: target is not a method of this service'),
    ({'method': 'nothing'}, rpc.NO_SUCH_METHOD, 'method: nothing is not a method of this service'),
    ({'version': 'x.y'}, rpc.INVALID_INPUT, "version: 'x.y' is not a version (MAJOR.MINOR)"),
    ({'version': '1'}, rpc.INVALID_INPUT, "version: '1' is not a version"),
    ({'version': '².0'}, rpc.INVALID_INPUT, "version: '².0' is not a version"),
    ({'version': 1.0}, rpc.INVALID_INPUT, 'version: 1.0 is not a version'),
    ({'version': None}, rpc.INVALID_INPUT, 'version: None is not a version'),
    ({'version': '1.0.0.0'}, rpc.INVALID_INPUT, "version: '1.0.0.0' is not a version"),
    ({'version': '99999999999999.0'}, rpc.INVALID_INPUT, 'is not a version'),
    ({'version': '1.2'}, rpc.UNSUPPORTED_VERSION, 'version 1.2 of show: this service serves 1.1'),
    ({'version': '2.0'}, rpc.UNSUPPORTED_VERSION, 'version 2.0 of show'),
    ({'namespace': 'other'}, rpc.NO_SUCH_METHOD, "namespace: 'other'"),
    ({'namespace': ['x']}, rpc.NO_SUCH_METHOD, "namespace: ['x']"),
    ({'args': ['vm-1']}, rpc.INVALID_INPUT, 'args: expected an object, got list'),
    ({'args': None}, rpc.INVALID_INPUT, 'args: expected an object, got NoneType'),
    ({'args': {}}, rpc.INVALID_INPUT, 'show: args.instance: is required'),
    ({'args': {'instance': 'a', 'extra': 1}}, rpc.INVALID_INPUT,
     'show: args.extra: is not an argument of show'),
    ({'args': {'instance': 'a', 'ctxt': 1}}, rpc.INVALID_INPUT,
     'args.ctxt: is not an argument of show'),
    ({'args': {'instance': 'a', 'self': 1}}, rpc.INVALID_INPUT,
     'args.self: is not an argument of show'),
    ({'args': {'Instance': 'a'}}, rpc.INVALID_INPUT, "args: 'Instance' is not an argument name"),
    ({'args': {'kwargs': 'a'}}, rpc.INVALID_INPUT, 'args.instance: is required'),
])
def test_a_malformed_envelope_is_refused_naming_the_field(change, code, text):
    error = refusal(dict(GOOD, **change))
    assert error.code == code
    assert text in error.message


def test_missing_and_unknown_arguments_are_all_listed():
    error = refusal(dict(GOOD, args={'a': 1, 'b': 2}))
    assert [e['field'] for e in error.details['errors']] == ['args.instance', 'args.a', 'args.b']


@pytest.mark.parametrize('message', [None, [], 'show', 42])
def test_a_message_that_is_not_an_object_is_refused(message):
    assert refusal(message).message.startswith('message: expected an object')


def test_a_message_over_the_size_limit_is_refused_before_anything_else():
    cfg.CONF.set_override('rpc_max_message_bytes', 4096)
    try:
        error = refusal({'method': None}, body=b'x' * 4097)
    finally:
        cfg.CONF.clear_override('rpc_max_message_bytes')
    assert error.message == ('message: 4097 bytes is more than [DEFAULT] rpc_max_message_bytes '
                             '(4096)')
    assert dispatch(GOOD, body=b'x' * 4096) == {'instance': 'vm-1', 'verbose': False}


def test_a_good_message_is_dispatched_with_defaults_and_versions():
    assert dispatch(GOOD) == {'instance': 'vm-1', 'verbose': False}
    assert dispatch({'method': 'show', 'args': {'instance': 'a', 'verbose': True}}) == \
        {'instance': 'a', 'verbose': True}
    assert dispatch(dict(GOOD, version='1.1.0'))['instance'] == 'vm-1'
    assert refusal(dict(GOOD, version='1.1.3')).code == rpc.UNSUPPORTED_VERSION


@pytest.mark.parametrize('timeout,kept', [
    (None, None), (30, 30), (2.5, 2.5), (1, None), (0, None), (-5, None), (True, None),
    ('30', None), ([30], None), (float('inf'), None), (float('nan'), None), (10 ** 30, None),
])
def test_only_a_usable_client_timeout_reaches_the_heartbeat_watchdog(timeout, kept):
    assert rpc.client_timeout(timeout) == kept


def test_refusals_are_one_line_each_without_traceback(caplog):
    ratelimit.reset()
    with caplog.at_level(logging.WARNING, logger='wire.rpc'):
        refusal(dict(GOOD, method='_x' + 'y' * 10000))
    assert len(caplog.records) == 1
    record = caplog.records[0]
    assert record.exc_info is None and '\n' not in record.getMessage()
    assert len(record.getMessage()) < 500
