"""Payload shaping for the scheduler endpoints: boot uuids and names, answers, domains.

Each function validates what it reads from a message (wire.rpc.check /
invalid name the field and the rule) or builds a plain-dict answer.
"""

import dataclasses
import uuid as uuidlib

from scheduler.store import BUILDING, MIGRATING, STATES
from wire import arguments, ratelimit, rpc
from wire.errors import FieldError, shown
from wire.limits import DEFAULT
from wire.names import host_name, instance_name, instance_uuid
from wire.notifications import InstanceFacts

UPDATE_KEYS = ('instance', 'host', 'state', 'reason')
# What an agent may report: a move's state is the scheduler's alone.
AGENT_STATES = tuple(state for state in STATES if state != MIGRATING)


def boot_uuids(request, instance_uuids, limits=DEFAULT):
    """The caller-chosen uuids, checked: canonical, distinct, non-empty ([] if none)."""
    if instance_uuids is None:
        return []
    rpc.check(instance_uuids, list, 'instance_uuids')
    if len(instance_uuids) > limits.max_count:
        raise rpc.invalid('instance_uuids', f"has {len(instance_uuids)} items, more than the "
                                            f"maximum {limits.max_count} (instances per boot)")
    for index, value in enumerate(instance_uuids):
        rpc.check(value, str, f"instance_uuids[{index}]")
        try:
            canonical = str(uuidlib.UUID(value))
        except ValueError:
            canonical = None
        if canonical != value:   # the agent names domains by it: one spelling only
            raise rpc.invalid(f"instance_uuids[{index}]",
                              f"{value!r} is not a lower-case canonical UUID")
    if len(set(instance_uuids)) != len(instance_uuids) or not instance_uuids:
        raise rpc.invalid('instance_uuids', 'must be a non-empty list of distinct uuids')
    return list(instance_uuids)


def names(spec, uuids):
    """Instance names: the request name, or name-1..name-N for a multi-create."""
    if len(uuids) == 1:
        return {uuids[0]: spec.name}
    return {u: f"{spec.name}-{i + 1}" for i, u in enumerate(uuids)}


def count(spec, fresh):
    """The spec for the ``fresh`` instances still to boot (a retried partial boot)."""
    return dataclasses.replace(spec, count=len(fresh), min_count=min(spec.min_count, len(fresh)))


def new_row(uuid, name, request, spec_dict):
    """Instance columns inserted with its claim."""
    return {'uuid': uuid, 'name': name, 'request': request, 'spec': spec_dict,
            'state': BUILDING}


def building(row, assignment, alternates, now):
    """The answer for a just-claimed instance, as ``show`` would give it (no re-read)."""
    return dict(row, task=None, host=assignment.host, reason=None, attempts=[],
                alternates=list(alternates.get(assignment.instance, [])), created_at=now,
                updated_at=now, assignment=assignment.to_dict())


def row_facts(row, state, assignment=None):
    """What a notification says of an instance being booted (a ``new_row``)."""
    host = assignment.host if assignment is not None else None
    return _facts(row['uuid'], row['name'], row['request'], row['spec'], state, assignment,
                  host)


def record_facts(record, state=None, assignment=None):
    """What a notification says of a stored instance (``state``, ``assignment``: after
    the step, when they differ from the record's)."""
    return _facts(record.uuid, record.name, record.request, record.spec, state or record.state,
                  assignment or record.assignment, record.host)


def _facts(uuid, name, request, spec, state, assignment, host):
    spec = spec or {}
    return InstanceFacts(uuid, state, host=host, name=name, vcpus=spec.get('vcpus'),
                         memory_mb=spec.get('memory_mb'), flavor=(request or {}).get('flavor'),
                         assignment=assignment)


def summary(explanation):
    """The one-line summary of a NoValidHost explanation."""
    if isinstance(explanation, dict):
        return explanation.get('summary') or explanation.get('message')
    return explanation


def domains(instances, limits=DEFAULT):
    """{uuid: domain} of a host report, each entry checked, at most ``max_instances``."""
    rpc.check(instances, list, 'instances')
    if len(instances) > limits.max_instances:
        raise rpc.invalid('instances', f"has {len(instances)} items, more than the maximum "
                                       f"{limits.max_instances}")
    domains = {}
    for index, item in enumerate(instances):
        where = f"instances[{index}]"
        uuid = instance_uuid(rpc.require(item, 'uuid', str, where), f"{where}.uuid")
        arguments.one_of(rpc.require(item, 'state', str, where), f"{where}.state",
                         arguments.DOMAIN_STATES)
        if item.get('name') is not None:
            instance_name(item['name'], f"{where}.name")
        if uuid in domains:
            raise rpc.invalid(f"{where}.uuid", f"{uuid} is reported twice")
        domains[uuid] = item
    return domains


def check_update(instance, host, state, reason):
    """An agent result's fields checked; BusError naming the bad one."""
    instance_uuid(rpc.check(instance, str, 'instance'), 'instance')
    host_name(rpc.check(host, str, 'host'), 'host')
    arguments.one_of(state, 'state', AGENT_STATES)
    arguments.text(reason, 'reason')


def update_item(index, item):
    """(instance, host, state, reason) of ``updates[index]``, checked; BusError if not."""
    rpc.check(item, dict, f"updates[{index}]")
    unknown = sorted(set(item) - set(UPDATE_KEYS), key=str)
    if unknown:
        raise rpc.invalid(f"updates[{index}]", f"unknown key {shown(unknown[0])}")
    values = tuple(item.get(key) for key in UPDATE_KEYS)
    check_update(*values)
    return values


def checked_item(index, item):
    """``updates[index]`` checked, or None (one rate-limited line) when it breaks a rule."""
    try:
        return update_item(index, item)
    except (rpc.BusError, FieldError) as exc:
        refused = exc
    log_refused_item(index, refused)
    return None


def log_refused_item(which, error):
    """One rate-limited line, outside any except block (oslo.log would append the error)."""
    line = error.one_line() if isinstance(error, rpc.BusError) else f"InvalidInput: {error}"
    ratelimit.rejections().warning('instance_updates[%s] rejected: %s', which, line)
