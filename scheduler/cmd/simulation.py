"""Place a request stream in order on a fleet, as ``kvmfleet simulate`` does.

Each valid request is one decision (timed); its instances are applied to the
FleetView before the next request, so later requests see earlier ones.  An
invalid request is reported with its validation errors and the stream goes
on.
"""

import time

from scheduler.specs import parse_request
from wire.errors import InvalidInput


def instance_ids(name, index, count):
    """Instance ids of request ``index``: unique within a stream."""
    if count == 1:
        return [f"{name}-{index}"]
    return [f"{name}-{index}-{k}" for k in range(count)]


def percentile(values, fraction):
    """Nearest-rank percentile of ``values`` (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * fraction // 1))
    return ordered[int(rank) - 1]


def run_stream(engine, fleet, raw_requests, aliases=None, flavors=None, explain=False):
    """Outcome dicts for every request, then the summary dict."""
    outcomes, timings = [], []
    for index, raw in enumerate(raw_requests):
        outcome = _decide(engine, fleet, index, raw, aliases, flavors, explain)
        if outcome.get('decision_ms') is not None:
            timings.append(outcome['decision_ms'])
        outcomes.append(outcome)
    failed = [o['index'] for o in outcomes if not o['placed']]
    summary = {
        'placed': len(outcomes) - len(failed), 'failed': len(failed),
        'first_failure_index': failed[0] if failed else None,
        'decision_p50_ms': _round(percentile(timings, 0.50)),
        'decision_p99_ms': _round(percentile(timings, 0.99)),
    }
    return outcomes, summary


def _round(value):
    return None if value is None else round(value, 3)


def _decide(engine, fleet, index, raw, aliases, flavors, explain):
    name = str(raw.get('name') or f"requests[{index}]")
    outcome = {'index': index, 'request': name, 'placed': False, 'host': None,
               'assignment': None, 'instances': [], 'decision_ms': None}
    try:
        spec = parse_request(raw, aliases, flavors)
    except InvalidInput as exc:
        outcome['errors'] = exc.to_list()
        outcome['reasons'] = {'INVALID_REQUEST': 1}
        return outcome
    ids = instance_ids(name, index, spec.count)
    started = time.perf_counter()
    placement = engine.place(spec, fleet, ids)
    outcome['decision_ms'] = round((time.perf_counter() - started) * 1000.0, 3)
    if not placement.placed:
        outcome['reasons'] = placement.explanation.reasons
        outcome['explanation'] = placement.explanation.to_dict()
        return outcome
    group = spec.server_group.name if spec.server_group else None
    for assignment in placement.assignments:
        fleet.apply(assignment, group)
        entry = {'instance': assignment.instance, 'host': assignment.host,
                 'assignment': assignment.to_dict()}
        if explain:
            entry['alternates'] = placement.alternates.get(assignment.instance, [])
        outcome['instances'].append(entry)
    first = placement.assignments[0]
    outcome.update(placed=True, host=first.host, assignment=first.to_dict())
    return outcome
