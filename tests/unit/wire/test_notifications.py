"""wire.notifications: the payload builders, their schemas and samples, and the notifier
that is off unless [oslo_messaging_notifications] driver says otherwise."""

import json

import jsonschema
import pytest
from oslo_config import cfg
from oslo_context import context as oslo_context

from tests import notifications as helpers
from wire import context, notifications
from wire.assignment import Assignment

UUID = '00000000-0000-4000-8000-000000000042'
ASSIGNMENT = Assignment.from_dict({
    'host': 'h1', 'instance': UUID, 'vcpus': 2, 'memory_mb': 2048,
    'cells': [{'guest_cell': 0, 'host_cell': 1, 'vcpus': [0, 1], 'memory_mb': 2048,
               'page_size_kb': 2048, 'pinning': {'0': 5, '1': 4},
               'reserved_pcpus': [12, 13]}],
    'emulator_pcpus': [6],
    'pci_devices': [{'address': '0000:81:10.2', 'host_cell': 1, 'request': 'port:0',
                     'physical_network': 'physnet1'}]})
FACTS = notifications.InstanceFacts.of_assignment(UUID, 'ACTIVE', ASSIGNMENT, name='vm',
                                                  flavor='c1.pinned')


def test_a_failed_move_names_the_reasons_code_or_migration_failed():
    failed = notifications.instance_migration(FACTS, None, 'cold', 'h1', None,
                                              'NoValidHost: no host among 2')
    assert failed[notifications.DATA]['fault'] == {'exception': 'NoValidHost',
                                                   'message': 'NoValidHost: no host among 2'}
    refused = notifications.instance_migration(FACTS, UUID, 'live', 'h1', 'h2',
                                               'destination h2 refused: VERIFY_FAILED: x')
    assert refused[notifications.DATA]['fault']['exception'] == 'MigrationFailed'
    done = notifications.instance_migration(FACTS, UUID, 'live', 'h1', 'h2')
    assert done[notifications.DATA]['fault'] is None
    assert (done[notifications.DATA]['source_host'],
            done[notifications.DATA]['destination_host']) == ('h1', 'h2')


def test_the_summary_names_the_pinned_pcpus_and_pages_of_each_cell():
    summary = notifications.assignment_summary(ASSIGNMENT)
    assert summary == notifications.assignment_summary(ASSIGNMENT.to_dict())
    assert summary['cells'] == [{'guest_cell': 0, 'host_cell': 1, 'memory_mb': 2048,
                                 'page_size_kb': 2048, 'pages': 1024, 'pinned_pcpus': [4, 5],
                                 'reserved_pcpus': [12, 13]}]
    assert summary['emulator_pcpus'] == [6]
    assert summary['pci_devices'] == [{'address': '0000:81:10.2',
                                       'physical_network': 'physnet1'}]


def test_each_builder_makes_a_versioned_object_its_schema_accepts():
    built = [notifications.instance_action(FACTS),
             notifications.instance_action_error(FACTS, 'VERIFY_FAILED: cpu 4 busy',
                                                 'VERIFY_FAILED'),
             notifications.instance_reschedule(FACTS, 'h0', 'libvirt said no', 1),
             notifications.host_status('h1', True, False, 'maintenance'),
             notifications.instance_migration(FACTS, UUID, 'live', 'h1', 'h2'),
             notifications.instance_migration(FACTS, None, 'cold', 'h1', None,
                                              'NoValidHost: no host among 2'),
             notifications.host_drain('h1', moved=3, failed={UUID: 'NoValidHost: x'})]
    assert {p[notifications.NAME] for p in built} == set(notifications.PAYLOAD_VERSIONS)
    for payload in built:
        assert payload[notifications.NAMESPACE_KEY] == 'kvmfleet'
        assert payload[notifications.VERSION] == '1.0'
        helpers.validator(payload[notifications.NAME]).validate(payload)
    data = built[0][notifications.DATA]
    assert (data['host'], data['vcpus'], data['memory_mb'], data['flavor']) == \
        ('h1', 2, 2048, 'c1.pinned')


@pytest.mark.parametrize('change, where', [
    (lambda d: d.pop('uuid'), 'uuid'),
    (lambda d: d.update(state='FLYING'), 'FLYING'),
    (lambda d: d.update(surprise=1), 'surprise'),
    (lambda d: d['assignment']['cells'][0].pop('pages'), 'pages'),
    (lambda d: d.update(request_id='req-1'), 'req-1'),
    (lambda d: d.update(occurred_at='yesterday'), 'yesterday'),
])
def test_a_schema_refuses_what_the_builder_never_makes(change, where):
    payload = notifications.instance_action(FACTS)
    change(payload[notifications.DATA])
    with pytest.raises(jsonschema.ValidationError) as refused:
        helpers.validator(notifications.INSTANCE_ACTION).validate(payload)
    assert where in str(refused.value)


def test_every_schema_is_valid_and_every_event_has_a_sample_its_schema_accepts():
    for name in notifications.PAYLOAD_VERSIONS:
        helpers.validator(name)                # check_schema
    samples = {path.stem for path in helpers.SAMPLES.glob('*.json')}
    assert samples == set(notifications.EVENTS)
    for event_type in notifications.EVENTS:
        helpers.check(helpers.sample(event_type))


def test_an_unknown_event_type_is_a_bug_even_when_disabled():
    with pytest.raises(ValueError, match='instance.teleport.start'):
        notifications.DISABLED.notify('instance.teleport.start', notifications.instance_action,
                                      FACTS)


def test_a_payload_of_the_wrong_type_is_not_sent():
    notifier, capture = helpers.capturing()
    assert notifier.notify('host.up', notifications.instance_action, FACTS) is None
    assert capture.messages == []


def test_disabled_builds_nothing():
    def build():
        raise AssertionError('built while disabled')
    assert notifications.DISABLED.notify('host.up', build) is None


def test_a_failing_build_never_fails_the_caller():
    notifier, capture = helpers.capturing()

    def broken():
        raise KeyError('cells')
    assert notifier.notify('host.up', broken) is None
    notifier.notify('host.up', notifications.host_status, 'h1', True, True)
    assert capture.names() == ['host.up']


def test_error_events_and_host_down_are_sent_at_error_priority():
    errors = {event for event, (_, priority) in notifications.EVENTS.items()
              if priority == notifications.ERROR}
    assert errors == {e for e in notifications.EVENTS if e.endswith('.error')} | {'host.down'}


def test_publishers_name_the_service_and_host_and_the_request_travels():
    notifier, capture = helpers.capturing('kvmfleet-agent')
    host = notifier.for_publisher(notifications.publisher_id(notifications.AGENT, 'h7'))
    request = context.start_request()
    try:
        host.notify('instance.create.start', notifications.instance_action, FACTS)
    finally:
        oslo_context._request_store.context = None
    assert capture.messages[0]['publisher_id'] == 'kvmfleet-agent:h7'
    assert capture.messages[0]['ctxt'] == {'request_id': request.request_id}
    assert capture.messages[0]['payload'][notifications.DATA]['request_id'] == \
        request.request_id


@pytest.mark.parametrize('drivers', [[], ['noop']])
def test_off_unless_a_driver_is_configured(drivers):
    cfg.CONF.set_override('driver', drivers, group='oslo_messaging_notifications')
    try:
        notifier = notifications.from_conf(cfg.CONF, 'kvmfleet-scheduler:h')
    finally:
        cfg.CONF.clear_override('driver', group='oslo_messaging_notifications')
    assert not notifier.enabled and notifier.publisher_id == 'kvmfleet-scheduler:h'
    notifier.close()


def test_a_configured_driver_and_topics_are_honoured():
    from oslo_messaging.notify import _impl_test
    cfg.CONF.set_override('driver', ['test'], group='oslo_messaging_notifications')
    cfg.CONF.set_override('topics', ['fleet-a', 'fleet-b'], group='oslo_messaging_notifications')
    _impl_test.reset()
    try:
        notifier = notifications.from_conf(cfg.CONF, 'kvmfleet-scheduler:h',
                                           url='kombu+memory:////')
        notifier.notify('host.down', notifications.host_status, 'h1', False, True)
        notifier.close()
        [(ctxt, message, priority, _)] = _impl_test.NOTIFICATIONS
        oslo = notifier.sender.notifier
    finally:
        cfg.CONF.clear_override('driver', group='oslo_messaging_notifications')
        cfg.CONF.clear_override('topics', group='oslo_messaging_notifications')
        _impl_test.reset()
    assert oslo._topics == ['fleet-a', 'fleet-b']
    assert (priority, message['publisher_id'], message['event_type']) == \
        ('ERROR', 'kvmfleet-scheduler:h', 'host.down')
    json.dumps(message)        # what the messagingv2 driver serialises
    helpers.check(message)
