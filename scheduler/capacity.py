"""How many more of each request shape fit on the fleet as it is.

For each distinct shape (a RequestSpec ignoring its name and counts) the
fleet is filled greedily on a scratch copy, one instance after another, with
the engine's own filters and exact fit, until nothing more fits.  Hosts are
independent for resources, so filling host after host gives the same total
as placing instance after instance wherever the engine likes, at a fraction
of the cost (each step is one exact fit on the host's scratch usage).
Server groups are honoured: anti-affinity allows one member per host,
affinity keeps every instance on one host (the best host counts).

"Runs out first" is the reason most hosts gave when they stopped taking
instances (the dominant rejection reason), with one example sentence.
"""

import dataclasses
import json

from scheduler.fitting.reasons import Rejection
from wire.assignment import Assignment

AFFINITY = 'affinity'
# Counting stops at this many instances per host: a guard against a shape that
# holds nothing the fit counts, which would otherwise fit forever.
MAX_PER_HOST = 4096


@dataclasses.dataclass
class ShapeCapacity:
    """Capacity of one request shape."""

    request: str            # name of the first request with this shape
    vcpus: int
    memory_mb: int
    fits: int               # how many more instances fit
    runs_out: str | None    # dominant reason hosts stopped taking instances
    example: str | None     # one sentence with numbers for that reason
    stops: dict             # reason -> number of hosts that stopped on it

    def to_dict(self):
        return dataclasses.asdict(self)


def shape_key(spec):
    """What makes two requests the same shape (name and counts aside)."""
    data = spec.to_dict()
    for key in ('name', 'count', 'min_count'):
        data.pop(key, None)
    return json.dumps(data, sort_keys=True, default=str)


def capacity(specs, fleet, engine):
    """ShapeCapacity for each distinct shape among ``specs``, in first-seen order."""
    seen, results = set(), []
    for spec in specs:
        key = shape_key(spec)
        if key in seen:
            continue
        seen.add(key)
        results.append(shape_capacity(spec, fleet, engine))
    return results


def shape_capacity(spec, fleet, engine):
    """Fill every host of ``fleet`` (never changed) with ``spec`` and count."""
    context = engine.context(spec, fleet.scratch())
    static = [check for _, check in engine.static_checks(context)]
    # The exact fit runs at every step anyway, so the summary prechecks (and the
    # summary recomputed after each instance) would only cost time here.
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
