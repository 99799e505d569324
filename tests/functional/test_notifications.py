"""Versioned notifications on the real RabbitMQ: the scheduler process and the agents
configured with ``[oslo_messaging_notifications] driver = messagingv2`` and a topic of
their own; a boot and a delete through the real services; the notifications consumed
from the real queues by an oslo.messaging notification listener, each valid against
its schema and shaped as its sample, in the order of the steps.
"""

import threading
import uuid as uuidlib

import oslo_messaging as messaging
import pytest
from oslo_config import cfg

from tests import busfleet, notifications
from tests.functional.bus_stack import running_stack
from wire import rpc

pytestmark = pytest.mark.rabbit

GROUP = 'oslo_messaging_notifications'


class Listener:
    """Notification listener endpoint: every message, rebuilt as its envelope."""

    def __init__(self):
        self.messages = []
        self.seen = threading.Condition()

    def _record(self, priority, publisher_id, event_type, payload, metadata):
        with self.seen:
            self.messages.append({'priority': priority, 'publisher_id': publisher_id,
                                  'event_type': event_type, 'payload': payload,
                                  'message_id': metadata['message_id'],
                                  'timestamp': metadata['timestamp']})
            self.seen.notify_all()

    def info(self, ctxt, publisher_id, event_type, payload, metadata):
        self._record('INFO', publisher_id, event_type, payload, metadata)

    def error(self, ctxt, publisher_id, event_type, payload, metadata):
        self._record('ERROR', publisher_id, event_type, payload, metadata)

    def of(self, uuid):
        return [m for m in self.messages
                if m['payload']['kvmfleet_object.data'].get('uuid') == uuid]

    def wait_for(self, event_type, uuid, timeout=30):
        with self.seen:
            found = self.seen.wait_for(lambda: any(
                m['event_type'] == event_type for m in self.of(uuid)), timeout)
        assert found, f"no {event_type} for {uuid}: {[m['event_type'] for m in self.of(uuid)]}"


@pytest.fixture(scope='module')
def stack(rabbit_url, tmp_path_factory):
    topic = f"kvmfleet-notify-{uuidlib.uuid4().hex[:10]}"

    def notify_on(stack):     # the in-process agents read cfg.CONF; the scheduler its file
        cfg.CONF.set_override('driver', ['messagingv2'], group=GROUP)
        cfg.CONF.set_override('topics', [topic], group=GROUP)

    extra = f"[{GROUP}]\ndriver = messagingv2\ntopics = {topic}\n"
    try:
        with running_stack(tmp_path_factory.mktemp('notify'), busfleet.fleet(2),
                           prepare=notify_on, extra_config=extra) as stack:
            stack.topic = topic
            yield stack
    finally:
        cfg.CONF.clear_override('driver', group=GROUP)
        cfg.CONF.clear_override('topics', group=GROUP)


def test_boot_and_delete_are_told_on_the_configured_topic_in_order(stack):
    transport = messaging.get_notification_transport(cfg.CONF, url=stack.url)
    listener_endpoint = Listener()
    listener = messaging.get_notification_listener(
        transport, [messaging.Target(topic=stack.topic)], [listener_endpoint])
    listener.start()
    try:
        api = stack.api()
        [booted] = api.boot(dict(busfleet.PINNED, name='told'))['instances']
        uuid, host = booted['uuid'], booted['host']
        listener_endpoint.wait_for('instance.create.end', uuid)
        api.delete(uuid)
        listener_endpoint.wait_for('instance.delete.end', uuid)
        with pytest.raises(rpc.BusError):
            api.boot(dict(busfleet.PINNED, name='too-big', vcpus=64))
        with listener_endpoint.seen:
            assert listener_endpoint.seen.wait_for(lambda: any(
                m['event_type'] == 'instance.create.error' for m in listener_endpoint.messages),
                30)
    finally:
        listener.stop()
        listener.wait()
        transport.cleanup()
    mine = listener_endpoint.of(uuid)
    assert [m['event_type'] for m in mine if m['publisher_id'] == f"kvmfleet-agent:{host}"] \
        == ['instance.create.start', 'instance.create.end', 'instance.delete.start',
            'instance.delete.end']
    scheduled = [m for m in mine if m['event_type'] == 'instance.schedule.end']
    assert len(scheduled) == 1 and scheduled[0]['publisher_id'].startswith('kvmfleet-scheduler:')
    assert scheduled[0]['payload']['kvmfleet_object.data']['assignment'] == \
        [m for m in mine if m['event_type'] == 'instance.create.end'][0][
            'payload']['kvmfleet_object.data']['assignment']
    assert {m['payload']['kvmfleet_object.data']['host']
            for m in listener_endpoint.messages if m['event_type'] == 'host.up'} \
        == set(stack.host_names)
    error = next(m for m in listener_endpoint.messages
                 if m['event_type'] == 'instance.create.error')
    assert error['priority'] == 'ERROR'
    for message in listener_endpoint.messages:
        notifications.check(message)
    queues = stack.rabbitmqctl('list_queues', '-p', stack.vhost, '-q', 'name').stdout.split()
    assert f"{stack.topic}.info" in queues and 'notifications.info' not in queues
