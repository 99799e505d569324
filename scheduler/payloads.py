"""Payload shaping for the scheduler endpoints: boot uuids and names, answers, domains.

Each function validates what it reads from a message (wire.rpc.check /
invalid name the field and the rule) or builds a plain-dict answer.
"""

import dataclasses
import uuid as uuidlib

from scheduler.store import BUILDING, STATES
from wire import rpc
from wire.errors import shown
from wire.limits import DEFAULT
from wire.names import host_name, instance_uuid


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
        uuid = instance_uuid(rpc.require(item, 'uuid', str, f"instances[{index}]"),
                                   f"instances[{index}].uuid")
        rpc.require(item, 'state', str, f"instances[{index}]")
        domains[uuid] = item
    return domains


def check_update(instance, host, state, reason):
    """An agent result's fields checked; BusError naming the bad one."""
    instance_uuid(rpc.check(instance, str, 'instance'), 'instance')
    host_name(rpc.check(host, str, 'host'), 'host')
    if not isinstance(state, str) or state not in STATES:
        raise rpc.invalid('state', f"{shown(state)} is not one of {', '.join(STATES)}")
    if reason is not None:
        rpc.check(reason, str, 'reason')


def update_item(index, item):
    """(instance, host, state, reason) of ``updates[index]``, checked; BusError if not."""
    rpc.check(item, dict, f"updates[{index}]")
    values = tuple(item.get(key) for key in ('instance', 'host', 'state', 'reason'))
    check_update(*values)
    return values
