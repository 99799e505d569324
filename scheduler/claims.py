"""Place, claim, and re-place: the scheduler's decision committed to the store.

``place_and_claim`` runs the engine on the warm view, then claims each
assignment in the store against the generation of the view it was computed
on.  A conflict means the view was stale: the host is reloaded from the store
and that one instance is refitted on fresh state.  The siblings of a
multi-create that were computed on the stale view keep the old generation, so
they conflict too and are refitted: never claimed on usage they did not see.
``replace_on_alternate`` is the build retry after an agent failure: the next
alternate host that still passes every filter and fits, on current state.
Callers hold the scheduler lock around these functions.
"""

import dataclasses
import logging

from scheduler.store import ClaimConflict
from wire.assignment import Assignment

LOG = logging.getLogger(__name__)
MAX_REFITS = 5


@dataclasses.dataclass
class Claimed:
    """What one boot decided: the claimed assignments and each one's alternates."""

    assignments: list
    alternates: dict
    failed: dict          # instance -> reason it could not be claimed
    explanation: object = None


def single(spec):
    """The spec of one instance of a (possibly multi-instance) request."""
    return dataclasses.replace(spec, count=1, min_count=1)


def group_of(spec):
    return spec.server_group.name if spec.server_group else None


def explanation_text(explanation):
    """A placement Explanation as plain data for the bus (None stays None)."""
    if explanation is None:
        return None
    return dict(explanation.to_dict(), summary=explanation.summary_line(),
                lines=explanation.lines())


def place_and_claim(engine, state, spec, uuids, rows=None):
    """Place ``spec`` for ``uuids`` and claim each placement; returns Claimed.

    ``rows`` (uuid -> instance column values) are inserted with each claim.
    The view first catches up with what other schedulers wrote since its last look,
    in this scheduler's decision turn (scheduler/store/turns.py) until the last claim.
    """
    with state.store.decision_turn():
        return _place_and_claim(engine, state, spec, uuids, rows)


def _place_and_claim(engine, state, spec, uuids, rows):
    state.catch_up()
    placement = engine.place(spec, state.fleet, list(uuids))
    claimed = Claimed([], dict(placement.alternates or {}), {}, placement.explanation)
    # The generation each host had in the view the placement was computed on;
    # it advances only with this placement's own claims, which the next
    # sibling on that host was computed with.
    computed_on = {a.host: state.generations.get(a.host, -1) for a in placement.assignments}
    for assignment in placement.assignments:
        row = None
        if rows is not None:
            row = dict(rows[assignment.instance],
                       alternates=list(claimed.alternates.get(assignment.instance, [])))
        result = claim_with_refit(engine, state, spec, assignment, row,
                                  computed_on[assignment.host])
        if result is assignment:       # claimed as planned, not refitted
            computed_on[assignment.host] += 1
        if isinstance(result, Assignment):
            claimed.assignments.append(result)
        else:
            claimed.failed[assignment.instance] = result
    placed = {a.instance for a in placement.assignments}
    for uuid in uuids:
        if uuid not in placed:
            claimed.failed.setdefault(uuid, 'no valid host')
    return claimed


def claim_with_refit(engine, state, spec, assignment, row=None, computed_on=None):
    """Claim ``assignment``; on conflict refit on fresh state. Assignment or a reason.

    ``computed_on`` is the host generation of the view ``assignment`` was
    computed on (default: the view's current one).  The assignment returned
    is ``assignment`` itself when it was claimed without a refit.
    """
    expected = state.generations.get(assignment.host, -1) if computed_on is None else computed_on
    for _ in range(MAX_REFITS):
        try:
            generation = state.store.claim(
                assignment, expected, now=state.clock(),
                new_instance=None if row is None else dict(row, host=assignment.host))
        except ClaimConflict as exc:
            LOG.info('Claim conflict for %s: %s; refitting on fresh state',
                     assignment.instance, exc)
            state.refresh_host(assignment.host)
            placement = engine.place(single(spec), state.fleet, [assignment.instance])
            if not placement.assignments:
                return f"claim conflict on {assignment.host}, no valid host on refit"
            assignment = placement.assignments[0]
            expected = state.generations.get(assignment.host, -1)
            continue
        state.applied(assignment, group_of(spec), generation)
        return assignment
    return f"claim kept conflicting after {MAX_REFITS} refits"


def replace_on_alternate(engine, state, spec, uuid, alternates, tried):
    """Fit and claim ``uuid`` on the first alternate not tried yet; Assignment or None.

    Each alternate is judged by the engine's own evaluation path on current state
    (every filter, then the exact fit): the fleet moved since the alternates were
    chosen, so a host now disabled, holding an anti-affine sibling or missing a trait
    is skipped, with its reason logged.  The view first catches up with the claims
    and releases other schedulers made, in this scheduler's decision turn.
    """
    with state.store.decision_turn():
        return _replace_on_alternate(engine, state, spec, uuid, alternates, tried)


def _replace_on_alternate(engine, state, spec, uuid, alternates, tried):
    one = single(spec)
    state.catch_up()
    for name in alternates:
        if name in tried or name not in state.fleet:
            continue
        result = engine.evaluate(one, state.fleet, name, uuid)
        if not isinstance(result, Assignment):
            LOG.info('Reschedule of %s: alternate %s skipped: %s (%s)', uuid, name,
                     result.reason, result.detail)
            continue
        claimed = claim_with_refit(engine, state, spec, result)
        if isinstance(claimed, Assignment) and claimed.host not in tried:
            return claimed
        if isinstance(claimed, Assignment):   # refit went back to a failed host
            release_claim(state, claimed)
    return None


def release_claim(state, assignment_or_uuid):
    """Free a claim in the store and the warm view; returns the Assignment freed or None."""
    uuid = (assignment_or_uuid.instance if isinstance(assignment_or_uuid, Assignment)
            else assignment_or_uuid)
    held = None
    try:
        held = state.store.get_instance(uuid).assignment
    except LookupError:
        pass
    freed = state.store.release(uuid)
    if freed is None or held is None:
        return None
    assignment = Assignment.from_dict(held)
    state.released(assignment, freed[1])
    return assignment
