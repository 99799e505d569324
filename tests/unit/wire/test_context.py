"""The request context serializer: request ids checked, carried on, and in the log lines."""

import logging
import threading
import uuid

import pytest
from oslo_config import cfg
from oslo_context import context as oslo_context
from oslo_log import formatters
from oslo_log import log as oslo_log

from wire import context

INSTANCE = str(uuid.uuid4())


@pytest.fixture(autouse=True)
def no_current_context():
    oslo_context._request_store.context = None
    yield
    oslo_context._request_store.context = None


@pytest.mark.parametrize('value, valid', [
    ('req-' + INSTANCE, True),
    ('req-' + INSTANCE.upper(), False),
    (INSTANCE, False),
    ('req-' + INSTANCE + '\n', False),
    ('req-' + INSTANCE + '\nFAKE LOG LINE', False),
    ('req-1', False),
    (None, False),
    (42, False),
    (['req-' + INSTANCE], False),
])
def test_request_id_format(value, valid):
    assert context.valid_request_id(value) is valid


def test_the_client_adds_the_current_request_id_and_keeps_routing_keys():
    serializer = context.RequestContextSerializer()
    assert serializer.serialize_context({'host': 'h1'}) == {'host': 'h1'}    # no request yet
    request = context.start_request()
    assert serializer.serialize_context({'host': 'h1'}) == {
        'host': 'h1', 'request_id': request.request_id}
    assert serializer.serialize_context({}) == {'request_id': request.request_id}


def test_a_malformed_id_in_a_callers_dict_is_not_sent_on():
    serializer = context.RequestContextSerializer()
    assert serializer.serialize_context({'request_id': 'x y'}) == {}


def test_the_server_keeps_a_valid_id_and_makes_it_current():
    serializer = context.RequestContextSerializer()
    sent = 'req-' + INSTANCE
    ctxt = serializer.deserialize_context({'request_id': sent, 'host': 'h1'})
    assert ctxt == {'request_id': sent, 'host': 'h1'} and ctxt.get('host') == 'h1'
    assert oslo_context.get_current() is ctxt.request
    assert ctxt.request.request_id == sent


@pytest.mark.parametrize('sent', [None, 'req-../../etc', 'req-' + INSTANCE + '\nFORGED',
                                  7, {'a': 1}, 'x' * 100000])
def test_the_server_replaces_a_missing_or_malformed_id_without_logging_it(caplog, sent):
    serializer = context.RequestContextSerializer()
    raw = {} if sent is None else {'request_id': sent}
    with caplog.at_level(logging.WARNING, logger='wire.context'):
        ctxt = serializer.deserialize_context(raw)
    assert context.valid_request_id(ctxt['request_id'])
    assert ctxt['request_id'] != sent
    assert raw == ({} if sent is None else {'request_id': sent})   # the message is untouched
    if sent is not None:
        assert 'malformed request id' in caplog.text
        assert str(sent)[:20] not in caplog.text or isinstance(sent, int)


def test_a_context_that_is_not_a_dict_gets_a_new_request():
    ctxt = context.RequestContextSerializer().deserialize_context(['junk'])
    assert list(ctxt) == ['request_id'] and context.valid_request_id(ctxt['request_id'])


def test_the_first_uuid_argument_is_the_instance_concerned():
    serializer = context.RequestContextSerializer()
    ctxt = serializer.deserialize_context({})
    for argument in ('web-1', INSTANCE, str(uuid.uuid4()), {'uuid': 'x'}):
        assert serializer.deserialize_entity(ctxt, argument) == argument
    assert ctxt.request.resource_uuid == INSTANCE


def test_each_thread_logs_its_own_request_with_oslo_log_formatter():
    """What both services install (oslo_log.setup): [req-...] and [instance: uuid]."""
    conf = cfg.ConfigOpts()
    oslo_log.register_options(conf)
    conf(args=[])
    formatter = formatters.ContextFormatter(config=conf, project='kvmfleet')
    serializer = context.RequestContextSerializer()
    lines = {}

    def handle(request_id, instance):
        serializer.deserialize_entity(
            serializer.deserialize_context({'request_id': request_id}), instance)
        record = logging.LogRecord('kvmfleet', logging.INFO, __file__, 1, 'built', None, None)
        lines[request_id] = formatter.format(record)
    ids = [('req-' + str(uuid.uuid4()), str(uuid.uuid4())) for _ in range(2)]
    threads = [threading.Thread(target=handle, args=pair) for pair in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for request_id, instance in ids:
        assert request_id in lines[request_id]
        assert f"[instance: {instance}] built" in lines[request_id]
