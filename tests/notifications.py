"""Test helpers for versioned notifications: a capturing sender, the committed JSON
Schemas (wire/notification_schemas) and samples (docs/notification_samples).

``check(message)`` is the one test every emitted notification passes: its payload
validates against the schema of its payload type, and it has the keys, at every
depth, of the sample of its event type.
"""

import json
import pathlib
import threading

import jsonschema
import referencing

from wire import notifications

REPO = pathlib.Path(__file__).resolve().parents[1]
SCHEMAS = REPO / 'wire' / 'notification_schemas'
SAMPLES = REPO / 'docs' / 'notification_samples'
ENVELOPE_KEYS = {'message_id', 'publisher_id', 'event_type', 'priority', 'payload', 'timestamp'}


class Capture:
    """A sender (``publish`` like wire.notify.BackgroundNotifier) keeping the messages as
    oslo.messaging's messagingv2 driver would send them (no message_id/timestamp)."""

    def __init__(self):
        self.messages = []
        self.changed = threading.Condition()

    def publish(self, publisher_id, priority, ctxt, event_type, payload):
        with self.changed:
            self.messages.append({'publisher_id': publisher_id, 'priority': priority.upper(),
                                  'event_type': event_type, 'payload': payload,
                                  'ctxt': ctxt})
            self.changed.notify_all()

    def close(self):
        pass

    def names(self):
        return [m['event_type'] for m in self.messages]

    def data(self, event_type):
        """The payload data of every ``event_type`` message, in order."""
        return [m['payload'][notifications.DATA] for m in self.messages
                if m['event_type'] == event_type]


def capturing(publisher='kvmfleet-scheduler:test'):
    """(Notifier, Capture): a notifier that is on, sending into the capture."""
    capture = Capture()
    return notifications.Notifier(capture, publisher), capture


def _registry():
    resources = [(path.name, referencing.Resource.from_contents(json.loads(path.read_text())))
                 for path in SCHEMAS.glob('*.json')]
    return referencing.Registry().with_resources(resources)


REGISTRY = _registry()


def validator(payload_type):
    schema = json.loads((SCHEMAS / f"{payload_type}.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, registry=REGISTRY)


def sample(event_type):
    return json.loads((SAMPLES / f"{event_type}.json").read_text())


def keys_shape(value):
    """The keys of ``value`` at every depth (a list: its first item's shape)."""
    if isinstance(value, dict):
        return {key: keys_shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [keys_shape(value[0])] if value else []
    return None


def same_keys(value, model, path='message'):
    """Every dict of ``value`` has the keys of the dict at the same place in ``model``
    (where both have one: a null assignment matches a sample's object)."""
    if isinstance(value, dict) and isinstance(model, dict):
        assert set(value) == set(model), f"{path}: keys {sorted(value)} != {sorted(model)}"
        for key in value:
            same_keys(value[key], model[key], f"{path}.{key}")
    elif isinstance(value, list) and isinstance(model, list) and value and model:
        for index, item in enumerate(value):
            same_keys(item, model[0], f"{path}[{index}]")


def check(message):
    """Validate one emitted message (envelope dict) against its schema and its sample."""
    event_type = message['event_type']
    payload_type, priority = notifications.EVENTS[event_type]
    assert message['priority'] == priority.upper()
    assert message['payload'][notifications.NAME] == payload_type
    validator(payload_type).validate(message['payload'])
    expected = sample(event_type)
    envelope = {key: value for key, value in message.items() if key in ENVELOPE_KEYS}
    same_keys(envelope, {key: value for key, value in expected.items() if key in envelope})
