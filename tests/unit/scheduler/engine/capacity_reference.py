"""The capacity algorithm before memoisation, kept as the reference.

Every host is filled on its own, one exact fit after another, exactly as
``scheduler.capacity`` did before it grouped alike hosts; the tests compare
the fast version with this one and benchmarks/bench_capacity.py times both.
"""

import dataclasses

from scheduler.engine.capacity import AFFINITY, MAX_PER_HOST, ShapeCapacity, shape_key
from scheduler.fitting.reasons import Rejection
from wire.assignment import Assignment


def reference_capacity(specs, fleet, engine):
    """ShapeCapacity for each distinct shape among ``specs``, in first-seen order."""
    seen, results = set(), []
    for spec in specs:
        key = shape_key(spec)
        if key in seen:
            continue
        seen.add(key)
        results.append(reference_shape_capacity(spec, fleet, engine))
    return results


def reference_shape_capacity(spec, fleet, engine):
    """Fill every host of ``fleet`` (never changed) with ``spec`` and count."""
    context = engine.context(spec, fleet.scratch())
    static = [check for _, check in engine.static_checks(context)]
    dynamic = engine.dynamic_checks(context, summaries=False)
    group = spec.server_group.name if spec.server_group else None
    counts, stops, examples = [], {}, {}
    for state in fleet.hosts():
        count, rejection = _fill_host(engine, context, state, static, dynamic, group)
        counts.append(count)
        stops[rejection.reason] = stops.get(rejection.reason, 0) + 1
        examples.setdefault(rejection.reason, str(rejection))
    affinity = spec.server_group is not None and spec.server_group.policy == AFFINITY
    total = max(counts, default=0) if affinity else sum(counts)
    runs_out = min(stops, key=lambda r: (-stops[r], r)) if stops else None
    return ShapeCapacity(request=spec.name, vcpus=spec.vcpus, memory_mb=spec.memory_mb,
                         fits=total, runs_out=runs_out, example=examples.get(runs_out),
                         stops=dict(sorted(stops.items(), key=lambda kv: (-kv[1], kv[0]))))


def _fill_host(engine, context, state, static, dynamic, group):
    """(instances that fit on this host, the Rejection that stopped it)."""
    for check in static:
        rejection = check(state)
        if rejection is not None:
            return 0, rejection
    usage, members, count = state.usage, dict(state.members), 0
    while count < MAX_PER_HOST:
        current = dataclasses.replace(state, usage=usage, members=members)
        verdict = engine.verdict(current, dynamic, context, f"capacity-{count}")
        if not isinstance(verdict, Assignment):
            return count, verdict
        usage = usage.consume(verdict)
        if group:
            members[group] = members.get(group, 0) + 1
        count += 1
    return count, Rejection('CAPACITY_LIMIT', f"stopped counting at {MAX_PER_HOST}",
                            host=state.name)
