"""Where a moving instance goes: the boot engine's one evaluation path, on a view
without its source host (or on the one host an operator named).

A move is placed like a boot of the instance's own RequestSpec: the same
filters, exact fit and weighers, against the warm view in which the source
allocation is still held.  The destination assignment is computed for the
migration's uuid (the consumer of the destination claim until the move ends),
so it never collides with the instance's own claim in the view.  Pure: no
store, no bus.
"""

import dataclasses

from scheduler import claims, payloads
from wire.assignment import Assignment

LIVE_UNSUPPORTED = 'LIVE_MIGRATION_UNSUPPORTED'


def without_host(fleet, name):
    """A ScratchFleet of ``fleet`` where host ``name`` takes nothing (disabled).

    Only its topology's ``enabled`` changes: the enabled filter (static, cost 0)
    rejects it before anything reads its usage, summary or capacity.
    """
    scratch = fleet.scratch()
    if name in fleet:
        state = fleet.state(name)
        closed = dataclasses.replace(state.topology, enabled=False)
        scratch.changed[name] = dataclasses.replace(state, topology=closed)
    return scratch


def choose_destination(engine, fleet, spec, consumer, source, host=None, same_host=False):
    """The destination Assignment of ``consumer`` (instance id ``consumer``), or why none.

    ``host``: only that host is judged (an operator's --host), with every filter
    and the exact fit; its rejection is the answer.  ``same_host``: the source may
    be chosen too (a resize), beside what the source already holds.
    """
    spec = claims.single(spec)
    if host is not None:
        return _judge_one(engine, fleet, spec, consumer, host)
    view = fleet if same_host else without_host(fleet, source)
    placement = engine.place(spec, view, [consumer])
    if placement.assignments:
        return placement.assignments[0]
    explanation = placement.explanation or engine.explain(spec, view)
    text = payloads.summary(claims.explanation_text(explanation))
    return f"NoValidHost: {text or 'no other host can hold the instance'}"


def _judge_one(engine, fleet, spec, consumer, host):
    if host not in fleet:
        return f"{host}: host is not known"
    scratch = fleet.scratch()
    context = engine.context(spec, scratch)
    checks = [check for _, check in engine.static_checks(context)]
    checks += engine.dynamic_checks(context)
    verdict = engine.verdict(scratch.state(host), checks, context, consumer)
    if isinstance(verdict, Assignment):
        return verdict
    return f"{host}: {verdict.reason}: {verdict.detail}"


def kind_for(spec, live):
    """``live`` or ``cold`` for a move of an instance of ``spec`` (its stored dict):
    SEV guests cannot move live."""
    return 'live' if live and not (spec or {}).get('mem_encryption') else 'cold'


# A move's kind -> the action of its notifications (Nova's names)
ACTIONS = {'live': 'live_migration', 'cold': 'migrate', 'evacuation': 'evacuate',
           'resize': 'resize'}
# A resize's own steps after it ran (resize_confirm, resize_revert) are of kind resize
RESIZE_STEPS = ('resize_confirm', 'resize_revert')


def event_name(kind, phase):
    """The notification of a move's ``phase`` (start, end, error), Nova's names."""
    return f"instance.{ACTIONS[kind]}.{phase}"


def kind_of(event):
    """The move kind of a notification ``event_name`` made."""
    action = event.split('.')[1]
    if action in RESIZE_STEPS:
        return 'resize'
    return next(kind for kind, name in ACTIONS.items() if name == action)
