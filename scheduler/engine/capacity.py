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

Fleets hold a few host models, many hosts alike: two hosts whose topologies
are equal but for name and instances, whose usage is equal and which hold as
many members of the request's server group give the same count and the same
rejection (but for the host name).  So the static filters run on every host
(cheap, and they read host fields such as traits), and the fill after them
runs once per such class of hosts (``host_classes``) and shape.  This holds
for the engine's own fit and server group filters, which read nothing else;
with any other dynamic filter or fit every host is filled on its own.
"""

import dataclasses
import json

from scheduler.engine import shape_index as host_shapes
from scheduler.engine.pipeline import first_rejection
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
    seen, results, classes = set(), [], None
    for spec in specs:
        key = shape_key(spec)
        if key in seen:
            continue
        seen.add(key)
        if classes is None:
            classes = host_classes(fleet.hosts())
        results.append(shape_capacity(spec, fleet, engine, classes))
    return results


def shape_capacity(spec, fleet, engine, classes=None):
    """Fill every host of ``fleet`` (never changed) with ``spec`` and count.

    ``classes``: ``host_classes(fleet.hosts())`` when the caller has it already.
    """
    hosts = fleet.hosts()
    if classes is None:
        classes = host_classes(hosts)
    context = engine.context(spec, fleet.scratch())
    static = [check for _, check in engine.static_checks(context)]
    fill = _Filler(engine, context, spec)
    tally = _Tally()
    for state, host_class in zip(hosts, classes):
        rejection = first_rejection(static, state)
        if rejection is not None:
            tally.add(0, rejection)
        else:
            tally.add(*fill(state, host_class))
    affinity = spec.server_group is not None and spec.server_group.policy == AFFINITY
    return tally.result(spec, affinity)


class _Tally:
    """Counts per host, stops per reason and the first example of each reason."""

    def __init__(self):
        self.counts, self.stops, self.examples = [], {}, {}

    def add(self, count, rejection):
        self.counts.append(count)
        reason = rejection.reason
        self.stops[reason] = self.stops.get(reason, 0) + 1
        if reason not in self.examples:
            self.examples[reason] = str(rejection)

    def result(self, spec, affinity):
        counts, stops = self.counts, self.stops
        total = max(counts, default=0) if affinity else sum(counts)
        runs_out = min(stops, key=lambda r: (-stops[r], r)) if stops else None
        return ShapeCapacity(request=spec.name, vcpus=spec.vcpus, memory_mb=spec.memory_mb,
                             fits=total, runs_out=runs_out,
                             example=self.examples.get(runs_out),
                             stops=dict(sorted(stops.items(), key=lambda kv: (-kv[1], kv[0]))))


class _Filler:
    """Fills one host past its static filters: (count, the Rejection that stopped it).

    Results are memoised per (host class, members of the request's group) when
    only the engine's own fit and member filters decide (see the module doc).  A
    memoised Rejection names the first host with its key.  The example of a reason
    comes from the first host that stops on it, and that host filled itself (an
    earlier host with its key would have stopped on the reason first).
    """

    def __init__(self, engine, context, spec):
        self.engine, self.context = engine, context
        # The exact fit runs at every step anyway, so the summary prechecks (and the
        # summary recomputed after each instance) would only cost time here.
        self.dynamic = engine.dynamic_checks(context, summaries=False)
        self.group = spec.server_group.name if spec.server_group else None
        self.memo = {} if engine.follows_shape(spec) else None

    def __call__(self, state, host_class):
        if self.memo is None:
            return self.fill(state)
        key = (host_class, state.members.get(self.group, 0) if self.group else 0)
        known = self.memo.get(key)
        if known is None:
            known = self.memo[key] = self.fill(state)
        return known

    def fill(self, state):
        """Exact fits on the host's scratch usage until one fails."""
        members, current = dict(state.members), state
        for count in range(MAX_PER_HOST):
            verdict = self.engine.verdict(current, self.dynamic, self.context,
                                          f"capacity-{count}")
            if not isinstance(verdict, Assignment):
                return count, verdict
            if self.group:
                members[self.group] = members.get(self.group, 0) + 1
            current = dataclasses.replace(current, usage=current.usage.consume(verdict),
                                          members=members)
        return MAX_PER_HOST, Rejection('CAPACITY_LIMIT', f"stopped counting at {MAX_PER_HOST}",
                                       host=state.name)


def host_classes(states):
    """A class number per HostState: equal numbers fill alike (see the module doc)."""
    numbers, classes = {}, []
    for state in states:
        classes.append(numbers.setdefault(host_shapes.state_key(state), len(numbers)))
    return classes
