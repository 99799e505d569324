"""Why a request found no host: counts per reason and the nearest misses.

An Explanation is plain data (``to_dict`` is JSON-serialisable): every host
gets the first reason it fails on, in the engine's order (static filters,
dynamic filters, then the exact fit), judged once per shape of alike hosts.
Nearest misses are the hosts that got furthest (past every filter but the
resource checks) with the smallest shortfall, e.g.
``host-0042 cell 1: 2 free 1G pages, needs 4``.
"""

import dataclasses
import functools
import heapq

from scheduler.engine import shapes as engine_shapes
from scheduler.fitting.reasons import RESOURCE_REASONS
from wire.assignment import Assignment

NEAREST_MISSES = 3
FITS = 'FITS'


@dataclasses.dataclass
class Miss:
    host: str
    reason: str
    detail: str
    cell: int | None
    shortfall: int | None

    @property
    def text(self):
        separator = ' ' if self.detail.startswith('cell ') else ': '
        return f"{self.host}{separator}{self.detail}"

    def to_dict(self):
        return {'host': self.host, 'reason': self.reason, 'detail': self.detail,
                'cell': self.cell, 'shortfall': self.shortfall, 'text': self.text}


@dataclasses.dataclass
class Explanation:
    """Counts of reasons across hosts, the nearest misses, and where it stopped."""

    hosts: int
    reasons: dict                 # reason -> number of hosts
    nearest: list                 # [Miss]
    fits: int = 0                 # hosts that would take one more instance
    instance_index: int = 0       # the instance that found no host (= how many fit)
    min_count: int = 1
    # filter reason -> the first host's rejection text, e.g. which trait is missing
    examples: dict = dataclasses.field(default_factory=dict)
    count: int = 1                # instances asked for

    @property
    def dominant_reason(self):
        """The reason most hosts gave (ties: the alphabetically first)."""
        if not self.reasons:
            return None
        return min(self.reasons, key=lambda reason: (-self.reasons[reason], reason))

    def to_dict(self):
        return {'hosts': self.hosts, 'fits': self.fits,
                'reasons': dict(sorted(self.reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
                'nearest': [miss.to_dict() for miss in self.nearest],
                'instance_index': self.instance_index, 'min_count': self.min_count,
                'examples': dict(sorted(self.examples.items())),
                'count': self.count}

    def summary_line(self):
        """'no valid host among 12: 7 NUMA_CELL_NO_FREE_PAGES, 5 HOST_DISABLED'.

        A multi-create says first how many of its instances fit and its
        min_count: '2 of 5 instances fit, min_count 3; instance 3: no valid host ...'.
        """
        counts = ', '.join(f"{count} {reason}" for reason, count in
                           sorted(self.reasons.items(), key=lambda kv: (-kv[1], kv[0])))
        line = f"no valid host among {self.hosts}: {counts or 'no hosts'}"
        if self.count <= 1:
            return line
        return (f"{self.instance_index} of {self.count} instances fit, min_count "
                f"{self.min_count}; instance {self.instance_index + 1}: {line}")

    def lines(self):
        """Human lines: the summary, one per nearest miss, one example per filter reason."""
        return ([self.summary_line()] + [f"nearest: {miss.text}" for miss in self.nearest]
                + [f"{reason}: {text}" for reason, text in sorted(self.examples.items())])


def explain_request(engine, context, instance_index=0, min_count=1, fits=None, count=1):
    """Judge every host of ``context.fleet`` and explain the outcome.

    Alike hosts are judged once (``engine.shapes``), when only their shape
    decides (``Engine.follows_shape``); otherwise every host is judged.  The
    counts and nearest misses are those of judging every host
    (tests/unit/scheduler/engine/explain_reference.py is that full pass).  ``fits``
    is the engine's per-request cache of exact fits: hosts it already fitted
    for this request are not fitted again.
    """
    checks = engine.all_checks(context)

    def judge(state):
        return engine.verdict(state, checks, context, 'explain', fits)

    reasons, misses, fitting, examples = {}, [], 0, {}
    for verdict, names, hosts in _judged(engine, context, judge):
        if isinstance(verdict, Assignment):
            fitting += hosts
            continue
        reasons[verdict.reason] = reasons.get(verdict.reason, 0) + hosts
        if verdict.reason in RESOURCE_REASONS:
            misses.append((verdict, names))
        elif hosts:
            example = (names(1)[0], verdict.detail)
            examples[verdict.reason] = min(examples.get(verdict.reason, example), example)
    return Explanation(hosts=len(context.fleet.fleet), reasons=reasons,
                       nearest=_nearest(misses, reasons), fits=fitting,
                       instance_index=instance_index, min_count=min_count, count=count,
                       examples=example_texts(examples))


def example_texts(examples):
    """{reason: (host, detail)} -> {reason: 'host: detail'}: of each filter reason, the
    rejection of the host whose name sorts first (alike hosts reject alike)."""
    return {reason: f"{host}: {detail}" for reason, (host, detail) in examples.items()}


def _judged(engine, context, judge):
    """(verdict, first names with it, how many) per host, or per shape and special host.

    ``first names`` is a function: how many of the alphabetically first -> names.
    """
    scratch = context.fleet
    if not engine.follows_shape(context.spec):
        for state in scratch.hosts():
            yield judge(state), _named(state.name), 1
        return
    special = engine_shapes.individual_hosts(context)
    shapes = scratch.fleet.shapes()
    for state, shape, names in engine_shapes.shape_groups(context, special):
        count = len(names) - (len(names & special) if special else 0)
        yield judge(state), functools.partial(shapes.first_names, shape, skip=special), count
    for name in sorted(special):
        if name in scratch.fleet:
            yield judge(scratch.state(name)), _named(name), 1


def _named(name):
    return lambda count: [name]


def _nearest(misses, reasons):
    """The resource misses with the smallest shortfall, within the dominant reason first.

    Shortfalls are in each reason's own unit, so they are compared within the
    reason that blocks most hosts first: those misses say what the fleet is
    short of.  Filter rejections (disabled, traits, groups) are never near.
    Ties go to the alphabetically first host names.
    """
    if not misses:
        return []
    counts = {verdict.reason: reasons[verdict.reason] for verdict, _ in misses}
    dominant = min(counts, key=lambda reason: (-counts[reason], reason))

    def rank(verdict):
        return (verdict.reason != dominant, _shortfall_key(verdict))

    ranked = sorted(misses, key=lambda miss: rank(miss[0]))
    nearest, start = [], 0
    while start < len(ranked) and len(nearest) < NEAREST_MISSES:
        tied = rank(ranked[start][0])
        end = start
        while end < len(ranked) and rank(ranked[end][0]) == tied:
            end += 1
        wanted = NEAREST_MISSES - len(nearest)
        named = heapq.nsmallest(wanted, (
            (name, index) for index in range(start, end)
            for name in ranked[index][1](wanted)))
        nearest.extend(_miss(name, ranked[index][0]) for name, index in named)
        start = end
    return nearest


def _miss(name, verdict):
    return Miss(name, verdict.reason, verdict.detail, verdict.cell, verdict.shortfall)


def _shortfall_key(rejection):
    return rejection.shortfall if isinstance(rejection.shortfall, (int, float)) else 10 ** 9
