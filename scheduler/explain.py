"""Why a request found no host: counts per reason and the nearest misses.

An Explanation is plain data (``to_dict`` is JSON-serialisable) built by a
full pass over the fleet: every host gets the first reason it fails on, in
the engine's order (static filters, dynamic filters, then the exact fit).
Nearest misses are the hosts that got furthest (past every filter but the
resource checks) with the smallest shortfall, e.g.
``host-0042 cell 1: 2 free 1G pages, needs 4``.
"""

import dataclasses
import heapq

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
    instance_index: int = 0       # the instance that found no host
    min_count: int = 1
    # filter reason -> the first host's rejection text, e.g. which trait is missing
    examples: dict = dataclasses.field(default_factory=dict)

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
                'examples': dict(sorted(self.examples.items()))}

    def summary_line(self):
        """'No valid host among 12: 7 NUMA_CELL_NO_FREE_PAGES, 5 HOST_DISABLED'."""
        counts = ', '.join(f"{count} {reason}" for reason, count in
                           sorted(self.reasons.items(), key=lambda kv: (-kv[1], kv[0])))
        return f"no valid host among {self.hosts}: {counts or 'no hosts'}"

    def lines(self):
        """Human lines: the summary, one per nearest miss, one example per filter reason."""
        return ([self.summary_line()] + [f"nearest: {miss.text}" for miss in self.nearest]
                + [f"{reason}: {text}" for reason, text in sorted(self.examples.items())])


def explain_request(engine, context, instance_index=0, min_count=1, fits=None):
    """Run every check on every host of ``context.fleet`` and explain the outcome.

    ``fits`` is the engine's per-request cache of exact fits: hosts it already
    fitted for this request are not fitted again.
    """
    static = [check for _, check in engine.static_checks(context)]
    dynamic = engine.dynamic_checks(context)
    reasons, resource_misses, fitting, hosts = {}, [], 0, context.fleet.hosts()
    examples = {}
    for state in hosts:
        verdict = _first_rejection(static, state)
        if verdict is None:
            verdict = engine.verdict(state, dynamic, context, 'explain', fits)
            if isinstance(verdict, Assignment):
                fitting += 1
                continue
            if verdict.reason in RESOURCE_REASONS:
                resource_misses.append(verdict)
        if verdict.reason not in RESOURCE_REASONS:
            examples.setdefault(verdict.reason, f"{verdict.host or state.name}: {verdict.detail}")
        reasons[verdict.reason] = reasons.get(verdict.reason, 0) + 1
    return Explanation(hosts=len(hosts), reasons=reasons,
                       nearest=_nearest(resource_misses, reasons), fits=fitting,
                       instance_index=instance_index, min_count=min_count,
                       examples=examples)


def _nearest(misses, reasons):
    """The resource misses with the smallest shortfall, within the dominant reason first.

    Shortfalls are in each reason's own unit, so they are compared within the
    reason that blocks most hosts first: those misses say what the fleet is
    short of.  Filter rejections (disabled, traits, groups) are never near.
    """
    if not misses:
        return []
    counts = {m.reason: reasons[m.reason] for m in misses}
    dominant = min(counts, key=lambda reason: (-counts[reason], reason))
    best = heapq.nsmallest(NEAREST_MISSES, misses, key=lambda m: (
        m.reason != dominant, _shortfall_key(m), m.host or ''))
    return [Miss(m.host, m.reason, m.detail, m.cell, m.shortfall) for m in best]


def _first_rejection(checks, state):
    for check in checks:
        rejection = check(state)
        if rejection is not None:
            return rejection
    return None


def _shortfall_key(rejection):
    return rejection.shortfall if isinstance(rejection.shortfall, (int, float)) else 10 ** 9
