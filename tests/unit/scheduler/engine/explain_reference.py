"""NoValidHost before shapes, kept as the reference.

``ReferenceEngine`` walks every host of the estimate order one by one and
explains a failure by judging every host, exactly as the engine did before
it judged alike hosts once (scheduler/engine/shapes.py); the tests compare
the two on random fleets and benchmarks/bench_novalidhost.py times both.
"""

import heapq

from scheduler.engine import Engine, build_engine
from scheduler.engine.explain import (  # helpers the shapes left as they were
    NEAREST_MISSES,
    Explanation,
    Miss,
    _shortfall_key,
    example_texts,
)
from scheduler.engine.pipeline import first_rejection
from scheduler.fitting.reasons import RESOURCE_REASONS
from wire.assignment import Assignment


class ReferenceEngine(Engine):
    """The engine with the full walk and the full explanation pass."""

    def _walk(self, context, order, passing, checks, instance, fits):
        return (position for *_, position in order.entries)

    def explain_failure(self, context, instance_index, min_count, fits=None, count=1):
        return reference_explain(self, context, instance_index, min_count, fits, count)


def reference_engine(settings=None):
    """A ReferenceEngine with the pipeline ``build_engine(settings)`` builds."""
    built = build_engine(settings)
    return ReferenceEngine(built.filters, built.weighers, built.fit, built.policy,
                           built.settings)


def reference_explain(engine, context, instance_index=0, min_count=1, fits=None, count=1):
    """Run every check on every host of ``context.fleet`` and explain the outcome."""
    static = [check for _, check in engine.static_checks(context)]
    dynamic = engine.dynamic_checks(context)
    reasons, resource_misses, fitting, hosts = {}, [], 0, context.fleet.hosts()
    examples = {}
    for state in hosts:
        verdict = first_rejection(static, state)
        if verdict is None:
            verdict = engine.verdict(state, dynamic, context, 'explain', fits)
            if isinstance(verdict, Assignment):
                fitting += 1
                continue
            if verdict.reason in RESOURCE_REASONS:
                resource_misses.append(verdict)
        if verdict.reason not in RESOURCE_REASONS:
            example = (state.name, verdict.detail)
            examples[verdict.reason] = min(examples.get(verdict.reason, example), example)
        reasons[verdict.reason] = reasons.get(verdict.reason, 0) + 1
    return Explanation(hosts=len(hosts), reasons=reasons,
                       nearest=_nearest(resource_misses, reasons), fits=fitting,
                       instance_index=instance_index, min_count=min_count, count=count,
                       examples=example_texts(examples))


def _nearest(misses, reasons):
    if not misses:
        return []
    counts = {m.reason: reasons[m.reason] for m in misses}
    dominant = min(counts, key=lambda reason: (-counts[reason], reason))
    best = heapq.nsmallest(NEAREST_MISSES, misses, key=lambda m: (
        m.reason != dominant, _shortfall_key(m), m.host or ''))
    return [Miss(m.host, m.reason, m.detail, m.cell, m.shortfall) for m in best]
