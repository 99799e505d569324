"""Moves of instances, run by the scheduler: live/cold migration and evacuation.

The scheduler decides each destination (scheduler.moves, the boot engine) and
claims it in the store while the source allocation is still held (store
``claim_move``); agents only verify and apply.  A migration then goes:

1. ``prepare_migration`` (call) to the destination agent: it verifies the
   claimed assignment as it would a build and answers the libvirt URI and the
   domain XML the guest will have there; a refusal or no answer aborts;
2. ``migrate_instance`` (cast) to the source agent, which moves the guest and
   answers ``migration_update`` (migrated or failed);
3. migrated: the store makes the destination the instance's host and frees
   the source claim in one transaction, and ``finish_migration`` (cast) has the
   destination verify the running domain (its result is an instance_update);
   failed: the destination claim is freed, the destination told to clean up,
   the instance stays ACTIVE on its source with the reason.

A resize (kind ``resize``) is a cold move of the instance with a new
RequestSpec, placed the same way (its own host allowed: the destination claim
is held beside the source's there too, so the source's own claim is never
counted as free).  The source keeps its stopped copy; once migrated the
destination becomes the instance's host with both claims held, and the
destination's start (``finish_migration``'s instance_update) makes it RESIZED.
``confirm`` frees the source claim (finish_move, the new spec stored) and has
the source drop its copy; ``revert`` frees the destination claim (abort_move),
has the destination delete its copy and the source start the old one.

An evacuation (the source host is down) claims the destination, moves the
instance's host and frees the dead host's claim at once, then builds it
there from its RequestSpec.  Locking: ``lock`` (the scheduler's) around every
decision and store step; agent calls and casts happen outside it.
"""

import dataclasses
import logging
import uuid as uuidlib

from scheduler import moves
from scheduler.store import ACTIVE, BUILDING, ERROR, RESIZED, ClaimConflict, NotFound, models
from scheduler.store.moves import consumer_assignment
from wire import rpc
from wire.assignment import Assignment
from wire.request_spec import RequestSpec

LOG = logging.getLogger(__name__)
MAX_REFITS = 5


@dataclasses.dataclass(frozen=True)
class MoveSettings:
    """[scheduler] options of moves, passed in as values."""

    prepare_timeout: float = 60.0
    migration_timeout: float = 600.0


class Mover:
    """Starts, runs, finishes and aborts moves for one scheduler."""

    def __init__(self, store, state, engine, agents, lock, notify, settings=MoveSettings()):
        self.store = store
        self.state = state
        self.engine = engine
        self.agents = agents
        self.lock = lock
        self.notify = notify
        self.settings = settings

    # -- decide and claim (callers hold the lock) ------------------------------
    def start(self, record, kind, host=None, same_host=False, request_id=None, resize=None):
        """Claim a destination for ``record`` and record the move; MigrationRecord.

        With ``host`` (an operator's choice) a host that does not fit raises
        NoValidHost with its reason and records nothing; without, an instance that
        fits nowhere gets a failed migration record with the reason.  ``resize``:
        (new RequestSpec, new request) placed instead of the instance's own; a
        resize that fits nowhere raises NoValidHost and records nothing.
        """
        if record.assignment is None:
            raise rpc.BusError(rpc.CONFLICT, f"instance {record.uuid} holds no claim on "
                               f"{record.host}: nothing to move")
        if not record.spec:
            raise rpc.BusError(rpc.CONFLICT, f"instance {record.uuid} has no request spec "
                               '(adopted from a host report): it cannot be placed elsewhere')
        spec = RequestSpec.from_dict(record.spec) if resize is None else resize[0]
        migration = {'uuid': str(uuidlib.uuid4()), 'instance_uuid': record.uuid, 'kind': kind,
                     'status': models.CLAIMED, 'source_host': record.host,
                     'source_assignment': record.assignment, 'request_id': request_id}
        if resize is not None:
            migration.update(new_spec=resize[0].to_dict(), new_request=resize[1])
        with self.store.decision_turn():   # scheduler/store/turns.py
            self.state.catch_up()     # what other schedulers claimed and released
            for _ in range(MAX_REFITS):
                dest = moves.choose_destination(self.engine, self.state.fleet, spec,
                                                migration['uuid'], record.host, host, same_host)
                if isinstance(dest, str):
                    if host is not None or resize is not None:
                        raise rpc.BusError(rpc.NO_VALID_HOST,
                                           f"cannot move {record.uuid} to {dest}")
                    self.notify(moves.event_name(kind, 'error'),
                                {'instance': record.uuid, 'reason': dest}, error=True)
                    return self.store.record_failed_move(migration, dest)
                claimed = self._claim(migration, dest, spec)
                if claimed is not None:
                    self.notify(moves.event_name(kind, 'start'),
                                {'instance': record.uuid, 'migration': migration['uuid'],
                                 'source': record.host, 'destination': dest.host})
                    return claimed
            raise rpc.BusError(rpc.OPERATION_FAILED, f"claims on the destination of {record.uuid} "
                               f"kept conflicting after {MAX_REFITS} refits")

    def _claim(self, migration, dest, spec):
        """Claim ``dest`` (computed for the migration uuid); the record, or None: refit."""
        real = dataclasses.replace(dest, instance=migration['instance_uuid'])
        expected = self.state.generations.get(dest.host, -1)
        try:
            generation = self.store.claim_move(migration, real, expected,
                                               now=self.state.clock())
        except ClaimConflict as exc:
            if 'already moving' in str(exc):
                raise rpc.BusError(rpc.CONFLICT, str(exc))
            LOG.info('Move claim conflict for %s: %s; refitting', migration['instance_uuid'],
                     exc)
            self.state.refresh_host(dest.host)
            return None
        group = spec.server_group.name if spec.server_group else None
        self.state.applied(dest, group, generation)
        return self.store.get_migration(migration['uuid'])

    # -- run a migration (no lock held) ----------------------------------------
    def run(self, migration, record):
        """Prepare the destination, then send the source off; never raises."""
        try:
            self._run(migration, record)
        except Exception as exc:    # a bug or the bus: the move must not stay claimed
            LOG.exception('Migration %s failed', migration.uuid)
            self.abort(migration.uuid, f"InternalError: {exc}")

    def _run(self, migration, record):
        if migration.source_host == migration.dest_host:
            self._resize_in_place(migration, record)
            return
        try:
            answer = self.agents.prepare_migration(
                migration.dest_host, migration.uuid, record.uuid, record.name,
                migration.dest_assignment, migration.new_spec or record.spec,
                migration.new_request or record.request,
                timeout=self.settings.prepare_timeout)
        except Exception as exc:
            self.abort(migration.uuid, f"destination {migration.dest_host} did not prepare: "
                       f"{type(exc).__name__}: {exc}")
            return
        refusal = _prepare_refusal(answer)
        if refusal:
            self.abort(migration.uuid, f"destination {migration.dest_host} refused: {refusal}")
            return
        with self.lock:
            if not self.store.set_move_status(migration.uuid, models.MOVING,
                                              now=self.state.clock()):
                return      # aborted meanwhile
        self.agents.migrate_instance(migration.source_host, migration.uuid, record.uuid,
                                     migration.dest_host, answer['uri'], answer['xml'],
                                     live=migration.kind == models.LIVE,
                                     data_uri=answer.get('data_uri'),
                                     keep_source=migration.kind == models.RESIZE)

    def source_result(self, migration_uuid, host, status, reason):
        """The source agent's answer: ``migrated`` finishes the move, ``failed`` aborts."""
        try:
            migration = self.store.get_migration(migration_uuid)
        except NotFound:
            raise rpc.BusError(rpc.NOT_FOUND, f"migration {migration_uuid} not found")
        if migration.source_host != host:
            raise rpc.invalid('host', f"{host} is not the source of migration "
                              f"{migration_uuid} ({migration.source_host})")
        if migration.status != models.MOVING:
            LOG.info('Ignoring %s for migration %s: it is %s', status, migration_uuid,
                     migration.status)
            return None
        if status == 'failed':
            return self.abort(migration_uuid, reason or 'the source could not migrate')
        if migration.kind == models.RESIZE:
            return self.resized(migration_uuid)
        return self.finish(migration_uuid)

    # -- resize ---------------------------------------------------------------------
    def _resize_in_place(self, migration, record):
        """A resize that stays on its host: the agent verifies the new claim and
        redefines the guest (no libvirt move); then as a moved resize."""
        try:
            answer = self.agents.resize_in_place(
                migration.dest_host, migration.uuid, record.uuid, record.name,
                migration.dest_assignment, migration.new_spec, migration.new_request,
                timeout=self.settings.prepare_timeout)
        except Exception as exc:
            self.abort(migration.uuid, f"host {migration.dest_host} did not resize: "
                       f"{type(exc).__name__}: {exc}")
            return
        if not isinstance(answer, dict) or not answer.get('ok'):
            reason = answer.get('reason') if isinstance(answer, dict) else None
            self.abort(migration.uuid, f"host {migration.dest_host} refused: "
                       f"{str(reason or 'no reason given')[:1000]}")
            return
        with self.lock:
            if not self.store.set_move_status(migration.uuid, models.MOVING,
                                              now=self.state.clock()):
                return
        self.resized(migration.uuid)

    def resized(self, migration_uuid):
        """The resized guest was moved: the destination starts and verifies it (its
        instance_update makes the instance RESIZED: ``verified``)."""
        with self.lock:
            migration = self.store.resized_move(migration_uuid, now=self.state.clock())
        if migration is None:
            return None
        self.agents.finish_migration(migration.dest_host, migration.uuid,
                                     migration.instance_uuid, migration.dest_assignment)
        return migration

    def verified(self, migration, state, reason=None):
        """The destination's answer to a resize's finish_migration (lock held):
        ACTIVE -> RESIZED (resize.end); ERROR is recorded, the resize stays to be
        reverted; other states (a power event of the move) change nothing."""
        if state == ACTIVE:
            self.store.update_instance(migration.instance_uuid, state=RESIZED, task=None,
                                       reason=None)
            self.notify(moves.event_name(migration.kind, 'end'),
                        {'instance': migration.instance_uuid, 'migration': migration.uuid,
                         'source': migration.source_host, 'destination': migration.dest_host})
            return
        if state == ERROR:
            self.store.update_instance(migration.instance_uuid, state=state, task=None,
                                       reason=reason)
            self.notify(moves.event_name(migration.kind, 'error'),
                        {'instance': migration.instance_uuid, 'migration': migration.uuid,
                         'reason': reason or 'the resized guest did not start'}, error=True)

    def confirm(self, migration):
        """Free the source claim, store the new spec; the source drops its copy."""
        event = {'instance': migration.instance_uuid, 'migration': migration.uuid,
                 'source': migration.source_host, 'destination': migration.dest_host}
        self.notify('instance.resize_confirm.start', event)
        with self.lock:
            finished = self.store.finish_move(migration.uuid, now=self.state.clock())
            if finished is None:
                return None
            self._view_finished(*finished)
        if migration.source_host != migration.dest_host:
            self.agents.delete_instance(migration.source_host, migration.instance_uuid)
        self.notify('instance.resize_confirm.end', event)
        return self.store.get_migration(migration.uuid)

    def revert(self, migration):
        """Free the destination claim, back on the source with the old spec: the
        destination deletes its copy, the source starts the one it kept."""
        event = {'instance': migration.instance_uuid, 'migration': migration.uuid,
                 'source': migration.source_host, 'destination': migration.dest_host}
        self.notify('instance.resize_revert.start', event)
        with self.lock:
            aborted = self.store.abort_move(migration.uuid, None, now=self.state.clock(),
                                            revert=True)
            if aborted is None:
                return None
            self._view_step(migration.dest_host, aborted[1],
                            release=[consumer_assignment(migration)])
        if migration.source_host == migration.dest_host:
            self.agents.revert_resize(migration.source_host, migration.uuid,
                                      migration.instance_uuid, migration.source_assignment)
        else:
            self.agents.delete_instance(migration.dest_host, migration.instance_uuid)
            self.agents.finish_migration(migration.source_host, migration.uuid,
                                         migration.instance_uuid, migration.source_assignment)
        self.notify('instance.resize_revert.end', event)
        return self.store.get_migration(migration.uuid)

    # -- end a move -------------------------------------------------------------
    def finish(self, migration_uuid, state=ACTIVE):
        """Destination becomes the host, source claim freed (one transaction)."""
        with self.lock:
            finished = self.store.finish_move(migration_uuid, state=state,
                                              now=self.state.clock())
            if finished is None:
                return None
            migration, generations = finished
            self._view_finished(migration, generations)
        self.notify(moves.event_name(migration.kind, 'end'),
                    {'instance': migration.instance_uuid, 'migration': migration.uuid,
                     'source': migration.source_host, 'destination': migration.dest_host})
        if migration.kind != models.EVACUATION:
            self.agents.finish_migration(migration.dest_host, migration.uuid,
                                         migration.instance_uuid, migration.dest_assignment)
        return migration

    def abort(self, migration_uuid, reason):
        """Free the destination claim; the instance stays ACTIVE on its source."""
        with self.lock:
            aborted = self.store.abort_move(migration_uuid, reason, now=self.state.clock())
            if aborted is None:
                return None
            migration, generation = aborted
            self._view_step(migration.dest_host, generation,
                            release=[consumer_assignment(migration)])
        LOG.warning('Migration %s of %s failed: %s', migration.uuid, migration.instance_uuid,
                    reason, extra={'instance_uuid': migration.instance_uuid})
        self.notify(moves.event_name(migration.kind, 'error'),
                    {'instance': migration.instance_uuid, 'migration': migration.uuid,
                     'reason': reason}, error=True)
        try:
            self.agents.abort_migration(migration.dest_host, migration.uuid,
                                        migration.instance_uuid)
        except Exception:   # the host may be the reason: its next start cleans up
            LOG.exception('abort_migration to %s failed', migration.dest_host)
        return migration

    # The warm view follows each step without reloading a host from the store, unless
    # someone else wrote there meanwhile (its generation moved by more than this step).
    def _view_finished(self, migration, generations):
        dest = Assignment.from_dict(migration.dest_assignment)
        group = _group(migration, self.store)
        source = (Assignment.from_dict(migration.source_assignment)
                  if migration.source_assignment else None)
        for host, generation in generations.items():
            release = [consumer_assignment(migration)] if host == dest.host else []
            if source is not None and host == source.host:
                release.append(source)
            self._view_step(host, generation, release,
                            [dest] if host == dest.host else [], group)

    def _view_step(self, host, generation, release=(), apply=(), group=None):
        state = self.state
        if host not in state.fleet:
            return
        if state.generations.get(host) != generation - 1:
            state.refresh_host(host)
            return
        for assignment in release:
            state.fleet.release(assignment)
        for assignment in apply:
            state.fleet.apply(assignment, group)
        state.generations[host] = generation

    # -- evacuation (callers hold the lock) ----------------------------------------
    def evacuate_one(self, record, request_id=None):
        """Claim elsewhere, move the host, free the dead host's claim; the record.

        The caller casts the build to the destination (BUILDING until it answers).
        """
        migration = self.start(record, models.EVACUATION, request_id=request_id)
        if migration.status == models.FAILED:
            return migration
        self.finish(migration.uuid, state=BUILDING)
        return self.store.get_migration(migration.uuid)


def _group(migration, store):
    """The server group of the moving instance (its members count on the new host)."""
    spec = store.get_instance(migration.instance_uuid).spec or {}
    return (spec.get('server_group') or {}).get('name')


def _prepare_refusal(answer):
    """Why a prepare_migration answer is a refusal (or unreadable); '' when it is ready."""
    if not isinstance(answer, dict):
        return f"unreadable answer ({type(answer).__name__})"
    if not answer.get('ok'):
        return str(answer.get('reason') or 'no reason given')[:1000]
    for field in ('uri', 'xml'):
        if not isinstance(answer.get(field), str) or not answer[field]:
            return f"answer without {field}"
    if answer.get('data_uri') is not None and not isinstance(answer['data_uri'], str):
        return 'answer with a data_uri that is not a string'
    return ''

