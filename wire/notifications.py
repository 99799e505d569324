"""Versioned notifications: every lifecycle step told to whoever listens.

The form is Nova's versioned notifications (the semantics; no Nova code).
oslo.messaging's ``messagingv2`` envelope carries ``event_type``,
``publisher_id`` (``kvmfleet-scheduler:<host>`` or ``kvmfleet-agent:<host>``),
``priority``, ``timestamp`` and ``message_id``; its ``payload`` is a
versioned object::

    {"kvmfleet_object.name": "InstanceActionPayload",
     "kvmfleet_object.namespace": "kvmfleet",
     "kvmfleet_object.version": "1.0",
     "kvmfleet_object.data": {...}}

Each payload type is built by one function below and described by one JSON
Schema, ``wire/notification_schemas/<name>.json``.  ``EVENTS`` names every
event type, its payload type and its priority; docs/notifications.md says
when each is sent, and how a new operation adds its own events.

Nothing is sent unless ``[oslo_messaging_notifications] driver`` names a
driver, exactly as oslo.messaging's own notifier: a disabled ``Notifier``
builds no payload.  A notification never fails the operation it describes.
"""

import dataclasses
import datetime
import logging

from wire import context, rpc
from wire.notify import BackgroundNotifier

LOG = logging.getLogger(__name__)

NAMESPACE = 'kvmfleet'
NAME, NAMESPACE_KEY, VERSION, DATA = (f"kvmfleet_object.{key}" for key in
                                      ('name', 'namespace', 'version', 'data'))
SCHEDULER, AGENT = 'kvmfleet-scheduler', 'kvmfleet-agent'
INFO, ERROR = 'info', 'error'

# Payload types and their versions: a new optional field bumps the minor version, a
# removed or retyped field the major one (and the schema file changes with it).
INSTANCE_ACTION = 'InstanceActionPayload'
INSTANCE_ACTION_ERROR = 'InstanceActionErrorPayload'
INSTANCE_RESCHEDULE = 'InstanceReschedulePayload'
HOST_STATUS = 'HostStatusPayload'
INSTANCE_MIGRATION = 'InstanceMigrationPayload'
HOST_DRAIN = 'HostDrainPayload'
PAYLOAD_VERSIONS = {INSTANCE_ACTION: '1.0', INSTANCE_ACTION_ERROR: '1.0',
                    INSTANCE_RESCHEDULE: '1.0', HOST_STATUS: '1.0', INSTANCE_MIGRATION: '1.0',
                    HOST_DRAIN: '1.0'}


def _steps(action, payload=INSTANCE_ACTION, error=True, error_payload=INSTANCE_ACTION_ERROR):
    """The ``<action>.start``/``.end`` (and ``.error``) events of one instance action."""
    events = {f"instance.{action}.start": (payload, INFO),
              f"instance.{action}.end": (payload, INFO)}
    if error:
        events[f"instance.{action}.error"] = (error_payload, ERROR)
    return events


def _move_steps(action):
    """A move's start, end and error: one payload that names both hosts (Nova's names)."""
    return _steps(action, INSTANCE_MIGRATION, error_payload=INSTANCE_MIGRATION)


# event type -> (payload type, priority).  docs/notifications.md lists them.
EVENTS = {
    **_steps('schedule', error=False),
    **_steps('create'),
    **_steps('delete'),
    **_steps('power_off'),
    **_steps('power_on'),
    **_steps('reboot'),
    'instance.reschedule': (INSTANCE_RESCHEDULE, INFO),
    **_move_steps('live_migration'),
    **_move_steps('migrate'),
    **_move_steps('evacuate'),
    **_move_steps('resize'),
    'instance.resize_confirm.start': (INSTANCE_MIGRATION, INFO),
    'instance.resize_confirm.end': (INSTANCE_MIGRATION, INFO),
    'instance.resize_revert.start': (INSTANCE_MIGRATION, INFO),
    'instance.resize_revert.end': (INSTANCE_MIGRATION, INFO),
    'host.drain.start': (HOST_DRAIN, INFO),
    'host.drain.end': (HOST_DRAIN, INFO),
    'host.up': (HOST_STATUS, INFO),
    'host.down': (HOST_STATUS, ERROR),
    'host.enabled': (HOST_STATUS, INFO),
    'host.disabled': (HOST_STATUS, INFO),
}


def publisher_id(service, host):
    """``<service>:<host>``: the publisher a listener sees (Nova's ``nova-compute:host``)."""
    return f"{service}:{host}"


def versioned(name, data):
    """The versioned object of payload type ``name`` holding ``data``."""
    return {NAME: name, NAMESPACE_KEY: NAMESPACE, VERSION: PAYLOAD_VERSIONS[name], DATA: data}


def now():
    """The time of a step as payloads write it (ISO 8601, UTC, microseconds)."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='microseconds')


def _common(request_id, occurred_at):
    """The fields every payload ends with: the request and when the step happened."""
    return {'request_id': request_id or context.current_request_id(),
            'occurred_at': occurred_at or now()}


@dataclasses.dataclass(frozen=True)
class InstanceFacts:
    """What a service knows of one instance at one step (unknown fields are None)."""

    uuid: str
    state: str
    host: str | None = None
    name: str | None = None
    vcpus: int | None = None
    memory_mb: int | None = None
    flavor: str | None = None
    assignment: object = None   # a wire.assignment.Assignment or its to_dict() form

    @classmethod
    def of_assignment(cls, uuid, state, assignment, name=None, flavor=None):
        """Facts taken from an Assignment or its dict (host, vcpus, memory_mb); None: the
        uuid only."""
        if not assignment:
            return cls(uuid, state, name=name, flavor=flavor)
        return cls(uuid, state, host=_get(assignment, 'host'), name=name,
                   vcpus=_get(assignment, 'vcpus'), memory_mb=_get(assignment, 'memory_mb'),
                   flavor=flavor, assignment=assignment)


def _get(value, name, default=None):
    """Field ``name`` of an Assignment (or one of its parts) or of its to_dict() form."""
    if isinstance(value, dict):
        return value.get(name, default)
    return getattr(value, name, default)


def assignment_summary(assignment):
    """The exact resources held, as listeners want them: pinned pCPUs and pages per cell.

    Read from the Assignment or its dict alike (to_dict() would cost more than the rest
    of the notification)."""
    if not assignment:
        return None
    return {
        'cells': [{'guest_cell': _get(cell, 'guest_cell'), 'host_cell': _get(cell, 'host_cell'),
                   'memory_mb': _get(cell, 'memory_mb'),
                   'page_size_kb': _get(cell, 'page_size_kb'),
                   'pages': _get(cell, 'memory_mb') * 1024 // _get(cell, 'page_size_kb'),
                   'pinned_pcpus': sorted(set(_get(cell, 'pinning', {}).values())),
                   'reserved_pcpus': sorted(_get(cell, 'reserved_pcpus', ()))}
                  for cell in _get(assignment, 'cells', ())],
        'shared_cpus': sorted(_get(assignment, 'shared_cpus', ())),
        'emulator_pcpus': sorted(_get(assignment, 'emulator_pcpus', ())),
        'pci_devices': [{'address': _get(pci, 'address'),
                         'physical_network': _get(pci, 'physical_network')}
                        for pci in _get(assignment, 'pci_devices', ())],
        'sev': bool(_get(assignment, 'sev', False)),
    }


def _instance_data(facts, request_id, occurred_at):
    return {'uuid': facts.uuid, 'name': facts.name, 'host': facts.host,
            'state': facts.state, 'vcpus': facts.vcpus, 'memory_mb': facts.memory_mb,
            'flavor': facts.flavor, 'assignment': assignment_summary(facts.assignment),
            **_common(request_id, occurred_at)}


def instance_action(facts, request_id=None, occurred_at=None):
    """InstanceActionPayload: the instance at the start or end of a step."""
    return versioned(INSTANCE_ACTION, _instance_data(facts, request_id, occurred_at))


def instance_action_error(facts, reason, exception=None, request_id=None, occurred_at=None):
    """InstanceActionErrorPayload: the instance and why the step failed.

    ``exception`` is the error's kind (a reason code such as ``NoValidHost`` or
    ``VERIFY_FAILED``, or an exception class name); ``reason`` the readable line.
    """
    data = _instance_data(facts, request_id, occurred_at)
    data['fault'] = {'exception': exception, 'message': reason}
    return versioned(INSTANCE_ACTION_ERROR, data)


def instance_reschedule(facts, previous_host, reason, attempt, request_id=None,
                        occurred_at=None):
    """InstanceReschedulePayload: a failed build placed again (``facts``: the new host)."""
    data = _instance_data(facts, request_id, occurred_at)
    data.update(previous_host=previous_host, reason=reason, attempt=attempt)
    return versioned(INSTANCE_RESCHEDULE, data)


def instance_migration(facts, migration, kind, source_host, destination_host, reason=None,
                       request_id=None, occurred_at=None):
    """InstanceMigrationPayload: the instance and its move (``reason``: why it failed).

    ``kind`` is live, cold, evacuation or resize; ``destination_host`` is None when no host
    was found.  The fault's ``exception`` is the reason's code (``NoValidHost``,
    ``VERIFY_FAILED``, ...) when it starts with one.
    """
    data = _instance_data(facts, request_id, occurred_at)
    data.update(migration=migration, kind=kind, source_host=source_host,
                destination_host=destination_host, fault=None)
    if reason is not None:
        code = reason.split(':', 1)[0]
        data['fault'] = {'exception': code if code.isidentifier() else 'MigrationFailed',
                         'message': reason}
    return versioned(INSTANCE_MIGRATION, data)


def host_drain(host, instances=None, moved=None, failed=None, request_id=None,
               occurred_at=None):
    """HostDrainPayload: a drain's start (``instances`` to move) or end (what moved, and
    why the others could not)."""
    return versioned(HOST_DRAIN, {'host': host, 'instances': instances, 'moved': moved,
                                  'failed': dict(failed or {}),
                                  **_common(request_id, occurred_at)})


def host_status(host, up, enabled, disabled_reason=None, request_id=None, occurred_at=None):
    """HostStatusPayload: a host's liveness and whether it takes new instances."""
    return versioned(HOST_STATUS, {'host': host, 'up': up, 'enabled': enabled,
                                   'disabled_reason': disabled_reason,
                                   **_common(request_id, occurred_at)})


class Notifier:
    """Sends the versioned notifications of one publisher through a sender.

    ``sender`` has ``publish(publisher_id, priority, ctxt, event_type, payload)``
    (wire.notify.BackgroundNotifier); None disables the notifier.
    """

    def __init__(self, sender=None, publisher='kvmfleet'):
        self.sender = sender
        self.publisher_id = publisher

    @property
    def enabled(self):
        return self.sender is not None

    def for_publisher(self, publisher):
        """The same sender under another publisher id (one per host of a process)."""
        return Notifier(self.sender, publisher)

    def notify(self, event_type, build, *args, **kwargs):
        """Send ``event_type`` with the payload ``build(*args, **kwargs)``; the payload.

        The event must be in EVENTS with ``build``'s payload type (a programming
        error otherwise, raised even when disabled).  Disabled: nothing is built.
        Any failure to build or send is logged: the operation goes on.
        """
        if event_type not in EVENTS:
            raise ValueError(f"{event_type}: not an event type of wire.notifications.EVENTS")
        if self.sender is None:
            return None
        payload_type, priority = EVENTS[event_type]
        try:
            payload = build(*args, **kwargs)
            if payload[NAME] != payload_type:
                raise ValueError(f"{event_type} carries {payload_type}, not {payload[NAME]}")
            ctxt = {'request_id': payload[DATA]['request_id']}
            self.sender.publish(self.publisher_id, priority, ctxt, event_type, payload)
            return payload
        except Exception:
            LOG.exception('Notification %s failed', event_type)
            return None

    def close(self):
        """Send what is queued and stop the sender."""
        if self.sender is not None:
            self.sender.close()


DISABLED = Notifier()


def from_conf(conf, publisher, url=None):
    """The notifier ``[oslo_messaging_notifications]`` asks for (driver, topics, transport).

    An empty driver list (the default) or only ``noop``: DISABLED, nothing is
    sent and no notification queue is declared on the broker.
    """
    drivers = [d for d in conf.oslo_messaging_notifications.driver if d != 'noop']
    if not drivers:
        return DISABLED.for_publisher(publisher)
    return Notifier(BackgroundNotifier(rpc.get_notifier(publisher, url=url)), publisher)
