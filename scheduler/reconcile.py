"""Reconcile an agent's report with the store.  The agent's domains are the truth.

Rules (docs/rpc-api.md, "Reconciliation"):

1. A claim whose domain the host reports: the instance state follows the
   domain (running -> ACTIVE, shut off -> STOPPED) unless an operation on it
   is in flight or it changed in the last RECENT_CHANGE_S seconds (a report
   is a snapshot; it may predate the change).
2. A claim with no domain: while the claim and the instance's last change are
   younger than ``[scheduler] build_grace_period`` it is left alone (the
   build may be on its way, or the report predates it); otherwise the
   instance goes to ERROR with the reason and its claim is freed.  An
   instance being deleted becomes DELETED once its delete is RECENT_CHANGE_S
   old.  So does a live instance of this host that holds no claim and has no
   domain (a scheduler died between freeing a claim and recording why).
   A domain of an instance being deleted for RECENT_CHANGE_S: the delete (or
   its answer) was lost and is sent again.  A delete in flight is never
   cleared by a build's result, only by DELETED or a failed delete's ERROR.
3. A domain with no claim (``unknown``): if it carries kvmfleet metadata for
   this host and its assignment claims cleanly, it is adopted (instance
   created or revived, ACTIVE/STOPPED); if the claim conflicts with what is
   held, it does not fit the reported topology beside the claims and the
   domains adopted before it (a pCPU, device, IOMMU group or hugepage held
   twice, or something the host does not have), would take a counted pool
   beyond its capacity with the allocation ratios (small-page memory,
   floating vCPUs, SEV slots: ``fitting.audit``), or it has no readable
   metadata, it is flagged on the host (shown by ``hosts``) and left
   running - the scheduler never destroys or merges what it does not own.
   A domain of a DELETED instance is deleted again (at most every
   RECENT_CHANGE_S), and so is a stale copy:
   the domain of an instance the store places on another host (it was
   evacuated, or rebuilt elsewhere, while this host was away).
4. An instance a move (docs/migration.md) is taking to or from this host is
   left alone: the move's own messages end it, and a report may come from
   any moment of it.

Ages that say whether the report may predate a change (the build's grace,
RECENT_CHANGE_S) are taken at ``listed_at``, when the agent listed its
domains (scheduler RPC 1.8; the receive time for older agents): a report
processed late judges a build by the listing, not by its own delay.

A dry run (``dry_run=True``) only reads: it names the instances a report
would change (``Outcome.pending``), so a report that changes nothing needs
neither the scheduler's lock nor a write beyond its heartbeat.
"""

import dataclasses
import logging

from oslo_config import cfg

from scheduler import claims
from scheduler.fitting import audit
from scheduler.store import (
    ACTIVE,
    BUILDING,
    DELETED,
    DELETING,
    ERROR,
    STOPPED,
    ClaimConflict,
    NotFound,
)
from wire import consistency
from wire.assignment import Assignment
from wire.errors import FieldError, InvalidInput

LOG = logging.getLogger(__name__)

reconcile_opts = [
    cfg.IntOpt('build_grace_period', default=300, min=0,
               help='Seconds a BUILDING claim may go without a domain on its host before '
                    'a host report turns it to ERROR and frees it.'),
]
cfg.CONF.register_opts(reconcile_opts, group='scheduler')

RUNNING_STATES = ('running', 'blocked', 'paused')
LIVE = (BUILDING, ACTIVE, STOPPED)    # states that hold a claim and a domain
# A report is a snapshot taken before it arrives: an instance changed this
# recently may have changed after the snapshot, so its domain state is not
# followed yet (the next report is newer).
RECENT_CHANGE_S = 10


def list_opts():
    return [('scheduler', reconcile_opts)]


@dataclasses.dataclass
class Outcome:
    """What a report changed: state transitions, adoptions, flags, deletes to resend."""

    transitions: list = dataclasses.field(default_factory=list)   # (uuid, old, new, reason)
    adopted: list = dataclasses.field(default_factory=list)
    flagged: list = dataclasses.field(default_factory=list)       # {'uuid','name','reason'}
    redelete: list = dataclasses.field(default_factory=list)
    dry_run: bool = False
    pending: list = dataclasses.field(default_factory=list)       # what a dry run would change

    @property
    def changed(self):
        return bool(self.transitions or self.adopted)

    def acts(self, uuid):
        """Whether to change ``uuid`` now: in a dry run it is only noted as pending."""
        if self.dry_run:
            self.pending.append(uuid)
        return not self.dry_run


def reconcile(state, host, domains, now, policy, topology=None, listed_at=None,
              dry_run=False):
    """Apply the rules to ``host`` given its reported ``domains`` (uuid -> dict).

    ``topology`` (the reported HostTopology) lets a domain be adopted only when
    its assignment fits the host beside what is held (wire.consistency.Ledger);
    ``policy`` (the engine's FitPolicy) gives the allocation ratios its counted
    pools are checked with (fitting.audit).  ``listed_at``: when the agent
    listed the domains (default ``now``); ``dry_run``: change nothing, name
    what would change.
    """
    outcome = Outcome(dry_run=dry_run)
    listed = now if listed_at is None else min(listed_at, now)
    store = state.store
    held = {h.assignment.instance: h for h in store.held_instances(host)}
    records = {r.uuid: r for r in store.list_instances(host=host)}
    moving = {m.instance_uuid for m in store.list_migrations(host=host, active=True)}
    for uuid, held_instance in held.items():
        if uuid in moving:
            continue
        record = records.get(uuid) or store.get_instance(uuid)
        if uuid in domains:
            _follow_domain(store, record, domains[uuid], outcome, (now, listed))
        else:
            _missing_domain(state, record, held_instance.claimed_at, outcome, (now, listed))
    for record in records.values():
        if record.state in LIVE and record.uuid not in held and record.uuid not in domains \
                and record.uuid not in moving:
            _missing_domain(state, record, record.updated_at, outcome, (now, listed),
                            'no claim and ')
    unknown = {uuid: domain for uuid, domain in domains.items()
               if uuid not in held and uuid not in moving}
    ledger = _ledger(store, host, topology) if unknown and topology is not None \
        and not dry_run else None
    for uuid, domain in unknown.items():
        _unknown_domain(state, host, uuid, domain, outcome, now, policy, ledger)
    return outcome


def _ledger(store, host, topology):
    """A Ledger of the host's claims as they stand after the rules above."""
    ledger = consistency.Ledger(topology)
    for held in store.held_instances(host):
        ledger.add(held.assignment)     # claims are the store's: recorded, never judged here
    return ledger


def _transition(store, record, new_state, outcome, now, **values):
    # never over a DELETED: another scheduler may have taken the delete's answer since
    # this report read the instance (two schedulers, reports queued behind a busy lock)
    if store.update_live_instance(record.uuid, now=now, state=new_state,
                                  **values).state != new_state:
        return
    outcome.transitions.append((record.uuid, record.state, new_state, values.get('reason')))


def _follow_domain(store, record, domain, outcome, times):
    now, listed = times
    running = domain.get('state') in RUNNING_STATES
    if listed - record.updated_at < RECENT_CHANGE_S and record.state != BUILDING:
        return   # the report may predate that change: the next one will tell
    if record.state == BUILDING and running:    # a delete asked meanwhile stays in flight
        if outcome.acts(record.uuid):
            _transition(store, record, ACTIVE, outcome, now, reason=None,
                        task=DELETING if record.task == DELETING else None)
    elif record.task == DELETING and listed - record.updated_at >= RECENT_CHANGE_S:
        # the delete (or its answer) was lost: sent again, then again at most this often
        if outcome.acts(record.uuid):
            store.update_instance(record.uuid, now=now)
            outcome.redelete.append(record.uuid)
    elif record.task is None and record.state == ACTIVE and not running:
        if outcome.acts(record.uuid):
            _transition(store, record, STOPPED, outcome, now, reason='found shut off on host')
    elif record.task is None and record.state in (STOPPED, ERROR) and running:
        if outcome.acts(record.uuid):
            _transition(store, record, ACTIVE, outcome, now, reason=None)


def _missing_domain(state, record, claimed_at, outcome, times, missing=''):
    now, listed = times
    # a delete asked a while ago needs no build's grace: a build still on its way
    # makes a domain of a DELETED instance, which a report has deleted again (rule 3)
    wait = RECENT_CHANGE_S if record.task == DELETING else cfg.CONF.scheduler.build_grace_period
    if listed - max(claimed_at, record.updated_at) < wait:
        return   # being built, or built after the agent listed its domains
    if not outcome.acts(record.uuid):
        return
    if record.task == DELETING:
        claims.release_claim(state, record.uuid)
        _transition(state.store, record, DELETED, outcome, now, task=None)
        return
    reason = f"{missing}no domain on host {record.host} (host report reconciliation)"
    claims.release_claim(state, record.uuid)
    _transition(state.store, record, ERROR, outcome, now, task=None, reason=reason)


def _unknown_domain(state, host, uuid, domain, outcome, now, policy, ledger=None):
    try:
        record = state.store.get_instance(uuid)
    except NotFound:
        record = None
    if record is not None and record.state == DELETED:
        if now - record.updated_at >= RECENT_CHANGE_S and outcome.acts(uuid):
            state.store.update_instance(uuid, now=now)   # not at every report: one is on
            outcome.redelete.append(uuid)                # its way, or the agent is slow
        return
    if not outcome.acts(uuid):    # adopted, flagged or deleted again: never a dry run's
        return
    if record is not None and _elsewhere(record, host, now):
        outcome.redelete.append(uuid)
        return
    assignment = _assignment_of(domain, host)
    if not isinstance(assignment, str) and ledger is not None:
        problems = ledger.add(assignment)
        if problems:
            assignment = f"cannot adopt: does not fit the host: {'; '.join(problems)}"
    if not isinstance(assignment, str):
        state.refresh_host(host)
        assignment = _fits_pools(state, host, assignment, policy)
    if isinstance(assignment, str):
        outcome.flagged.append({'uuid': uuid, 'name': domain.get('name'), 'reason': assignment})
        return
    if record is None:
        request = {'name': domain.get('name') or uuid, 'adopted': True}
        record, _ = state.store.create_instance(uuid, request['name'], request, None,
                                                BUILDING, now=now)
    try:
        generation = state.store.claim(assignment, state.generations[host], now=now)
    except ClaimConflict as exc:
        outcome.flagged.append({'uuid': uuid, 'name': domain.get('name'),
                                'reason': f"cannot adopt: {exc}"})
        return
    state.applied(assignment, None, generation)
    new_state = ACTIVE if domain.get('state') in RUNNING_STATES else STOPPED
    _transition(state.store, record, new_state, outcome, now, host=host, task=None,
                reason='adopted from host report')
    outcome.adopted.append(uuid)


def _elsewhere(record, host, now):
    """A stale copy: the store places the instance on another host (not just now)."""
    return record.host not in (None, host) and now - record.updated_at >= RECENT_CHANGE_S


def _fits_pools(state, host, assignment, policy):
    """``assignment`` if the host's pools hold it beside the claims, else why not."""
    topology = state.fleet.state(host).topology
    held = [instance.assignment for instance in topology.instances]
    over = audit.overruns(topology, policy, held + [assignment])
    return f"cannot adopt: {'; '.join(over)}" if over else assignment


def _assignment_of(domain, host):
    """The domain's Assignment, or a sentence saying why it has none usable."""
    raw = domain.get('assignment')
    if not isinstance(raw, dict):
        return 'domain has no kvmfleet metadata (not managed by kvmfleet)'
    try:
        assignment = Assignment.from_dict(raw)
    except (FieldError, InvalidInput, TypeError, ValueError) as exc:
        return f"unreadable assignment metadata: {exc}"
    if assignment.host != host:
        return f"assignment metadata names host {assignment.host!r}"
    if assignment.instance != domain.get('uuid', assignment.instance):
        return f"assignment metadata is for instance {assignment.instance!r}"
    return assignment
