"""Migration records and the claims a move holds on both hosts (mixed into Store).

A move's life in the store, each step one transaction:

* ``claim_move``: the destination assignment is claimed against the
  destination's generation (like a boot's claim) while the source allocation
  stays held; its exclusive resources are rows of the instance marked with the
  migration uuid, so the UNIQUE (host, kind, key) refuses anything held twice.
  The instance goes MIGRATING with the move's kind as its task (``resizing``
  for a resize).
* ``resized_move`` (resize only): the guest runs on the destination; the
  destination becomes the instance's host, both claims stay held (migration
  ``finished``) until ``finish_move`` (confirm: the new spec becomes the
  instance's) or ``abort_move`` with ``revert`` (the instance is back on its
  source, the destination claim freed).
* ``finish_move``: the source rows are freed, the destination rows unmarked and
  the allocation moved to the destination, in the same transaction that makes
  the destination the instance's host.
* ``abort_move``: the destination rows are freed; the instance stays on its
  source, ACTIVE, with the reason recorded on the instance and the migration.

Nothing is ever freed before the step that makes it free, and no step holds a
resource of one instance twice on one host.
"""

import dataclasses

from oslo_db import exception as db_exc
from sqlalchemy import and_, bindparam, delete, select, update
from sqlalchemy.exc import IntegrityError

from scheduler.store import models
from scheduler.store.changes import change_stamp
from scheduler.store.records import (
    ClaimConflict,
    HeldInstance,
    NotFound,
    integrity_violation,
    resource_keys,
)
from wire.assignment import Assignment

RESOURCES = models.AllocatedResource.__table__
MIGRATIONS = models.Migration.__table__
HOSTS = models.Host.__table__
_INSTANCES = models.Instance.__table__
# Active moves' destination claims (MoveStore.move_claims), built once: each view reload
# of a host reads them.
MOVE_CLAIMS = (select(MIGRATIONS, _INSTANCES.c.name, _INSTANCES.c.spec)
               .join(_INSTANCES, _INSTANCES.c.uuid == MIGRATIONS.c.instance_uuid)
               .where(MIGRATIONS.c.status.in_(models.MOVE_ACTIVE)))
MOVE_CLAIMS_ON_HOST = MOVE_CLAIMS.where(MIGRATIONS.c.dest_host == bindparam('h'))


@dataclasses.dataclass(frozen=True)
class MigrationRecord:
    uuid: str
    instance_uuid: str
    kind: str
    status: str
    source_host: str | None
    dest_host: str | None
    source_assignment: dict | None
    dest_assignment: dict | None
    reason: str | None
    request_id: str | None
    created_at: float
    updated_at: float
    finished_at: float | None
    new_spec: dict | None = None
    new_request: dict | None = None

    @property
    def active(self):
        return self.status in models.MOVE_ACTIVE

    def to_dict(self):
        return dataclasses.asdict(self)


def _record(row):
    return MigrationRecord(*(getattr(row, f.name) for f in dataclasses.fields(MigrationRecord)))


def _active_locked(conn, uuid):
    """The migration's row, locked for the transaction, or None when it is not active."""
    row = conn.execute(select(MIGRATIONS).where(MIGRATIONS.c.uuid == uuid)
                       .with_for_update()).first()
    return row if row is not None and row.status in models.MOVE_ACTIVE else None


def consumer_assignment(record):
    """The destination claim as the warm view holds it: keyed by the migration uuid."""
    assignment = Assignment.from_dict(record.dest_assignment)
    return dataclasses.replace(assignment, instance=record.uuid)


class MoveStore:
    """Store methods of migrations (see the module docstring)."""

    def claim_move(self, migration, dest, expected_generation, now=None):
        """Insert ``migration`` (column values) and claim ``dest`` (an Assignment of the
        instance on the destination) in one transaction; returns the destination's new
        generation.  ClaimConflict (nothing written) on a stale generation, a resource
        already held, or an instance that is already moving or has no allocation."""
        now = self.clock() if now is None else now
        uuid = migration['uuid']
        try:
            with self._writer, self.engine.begin() as conn:
                moving = conn.execute(select(MIGRATIONS.c.uuid).where(and_(
                    MIGRATIONS.c.instance_uuid == dest.instance,
                    MIGRATIONS.c.status.in_(models.MOVE_ACTIVE)))).first()
                if moving is not None:
                    raise ClaimConflict(f"instance {dest.instance} is already moving "
                                        f"(migration {moving.uuid})")
                conn.execute(MIGRATIONS.insert(), [dict(
                    migration, dest_host=dest.host, dest_assignment=dest.to_dict(),
                    created_at=now, updated_at=now)])
                bumped = conn.execute(update(HOSTS).where(
                    HOSTS.c.name == dest.host, HOSTS.c.generation == expected_generation)
                    .values(generation=HOSTS.c.generation + 1, changed_seq=change_stamp()))
                if bumped.rowcount != 1:
                    raise ClaimConflict(f"host {dest.host}: generation "
                                        f"{expected_generation} is stale")
                keys = resource_keys(dest)
                if keys:
                    conn.execute(RESOURCES.insert(), [
                        {'host': dest.host, 'kind': kind, 'key': key,
                         'instance_uuid': dest.instance, 'migration_uuid': uuid}
                        for kind, key in keys])
                conn.execute(update(models.Instance.__table__)
                             .where(models.Instance.__table__.c.uuid == dest.instance)
                             .values(state=models.MIGRATING,
                                     task=models.MOVE_TASKS.get(migration['kind'],
                                                                migration['kind']),
                                     updated_at=now))
        except (IntegrityError, db_exc.DBError) as exc:
            if not integrity_violation(exc):
                raise
            raise ClaimConflict(f"host {dest.host}: a resource for instance {dest.instance} "
                                f"is already held ({type(exc).__name__})") from None
        return expected_generation + 1

    def record_failed_move(self, migration, reason, now=None):
        """A move that claimed nothing (no destination): recorded failed, for the listing."""
        now = self.clock() if now is None else now
        with self._writer, self.engine.begin() as conn:
            conn.execute(MIGRATIONS.insert(), [dict(
                migration, status=models.FAILED, reason=reason, created_at=now,
                updated_at=now, finished_at=now)])
        return self.get_migration(migration['uuid'])

    def set_move_status(self, uuid, status, now=None):
        """claimed -> migrating: the destination is prepared, the source was told to go."""
        now = self.clock() if now is None else now
        with self._writer, self.engine.begin() as conn:
            changed = conn.execute(update(MIGRATIONS).where(
                MIGRATIONS.c.uuid == uuid, MIGRATIONS.c.status.in_(models.MOVE_ACTIVE))
                .values(status=status, updated_at=now)).rowcount
        return changed == 1

    def resized_move(self, uuid, now=None):
        """A resize's guest was moved: the destination becomes the instance's host, the
        migration ``finished``; both claims stay held.  The record, or None when the
        migration is not an active resize being moved."""
        now = self.clock() if now is None else now
        with self._writer, self.engine.begin() as conn:
            row = _active_locked(conn, uuid)
            if row is None or row.kind != models.RESIZE or row.status != models.MOVING:
                return None
            instances = models.Instance.__table__
            conn.execute(update(instances).where(instances.c.uuid == row.instance_uuid)
                         .values(host=row.dest_host, updated_at=now))
            conn.execute(update(MIGRATIONS).where(MIGRATIONS.c.uuid == uuid)
                         .values(status=models.FINISHED, updated_at=now))
            return dataclasses.replace(_record(row), status=models.FINISHED, updated_at=now)

    def finish_move(self, uuid, state=models.ACTIVE, now=None):
        """Make the destination the instance's host and free the source claim, together.

        Returns (the MigrationRecord as it was, {host: new generation}), or None when
        it is not active (already finished or aborted: nothing changed).  ``state`` is
        the instance's new state (BUILDING for an evacuation, which rebuilds there).
        A resize's new spec and request become the instance's (confirm).
        """
        now = self.clock() if now is None else now
        with self._writer, self.engine.begin() as conn:
            row = _active_locked(conn, uuid)
            if row is None:
                return None
            instance = row.instance_uuid
            conn.execute(delete(RESOURCES).where(RESOURCES.c.instance_uuid == instance,
                                                 RESOURCES.c.migration_uuid.is_(None)))
            conn.execute(update(RESOURCES).where(RESOURCES.c.migration_uuid == uuid)
                         .values(migration_uuid=None))
            allocations = models.Allocation.__table__
            conn.execute(update(allocations).where(allocations.c.instance_uuid == instance)
                         .values(host=row.dest_host, assignment=row.dest_assignment,
                                 claimed_at=now))
            generations = {}
            for host in {row.source_host, row.dest_host} - {None}:
                conn.execute(update(HOSTS).where(HOSTS.c.name == host)
                             .values(generation=HOSTS.c.generation + 1,
                                     changed_seq=change_stamp()))
                generations[host] = conn.execute(select(HOSTS.c.generation)
                                                 .where(HOSTS.c.name == host)).scalar_one()
            instances = models.Instance.__table__
            values = dict(host=row.dest_host, state=state, task=None, reason=None,
                          updated_at=now)
            if row.new_spec is not None:
                values.update(spec=row.new_spec, request=row.new_request)
            conn.execute(update(instances).where(instances.c.uuid == instance)
                         .values(**values))
            conn.execute(update(MIGRATIONS).where(MIGRATIONS.c.uuid == uuid)
                         .values(status=models.DONE, updated_at=now, finished_at=now))
            return _record(row), generations

    def abort_move(self, uuid, reason, now=None, revert=False):
        """Free the destination claim; the instance stays on its source, ACTIVE, with
        ``reason``.  Returns (the MigrationRecord as it was, the destination's new
        generation), or None when not active.  ``revert`` (a resize's revert): the
        instance is back on its source, ACTIVE without a reason, the migration
        ``reverted``."""
        now = self.clock() if now is None else now
        with self._writer, self.engine.begin() as conn:
            row = _active_locked(conn, uuid)
            if row is None:
                return None
            conn.execute(delete(RESOURCES).where(RESOURCES.c.migration_uuid == uuid))
            conn.execute(update(HOSTS).where(HOSTS.c.name == row.dest_host)
                         .values(generation=HOSTS.c.generation + 1,
                                 changed_seq=change_stamp()))
            generation = conn.execute(select(HOSTS.c.generation)
                                      .where(HOSTS.c.name == row.dest_host)).scalar_one()
            instances = models.Instance.__table__
            moved = (models.MIGRATING, models.RESIZED, models.ERROR) if revert \
                else (models.MIGRATING,)
            conn.execute(update(instances).where(instances.c.uuid == row.instance_uuid,
                                                 instances.c.state.in_(moved))
                         .values(state=models.ACTIVE, task=None, host=row.source_host,
                                 reason=None if revert else
                                 f"{row.kind} migration failed: {reason}",
                                 updated_at=now))
            conn.execute(update(MIGRATIONS).where(MIGRATIONS.c.uuid == uuid)
                         .values(status=models.REVERTED if revert else models.FAILED,
                                 reason=reason, updated_at=now, finished_at=now))
            return _record(row), generation

    def get_migration(self, uuid):
        with self.engine.connect() as conn:
            row = conn.execute(select(MIGRATIONS).where(MIGRATIONS.c.uuid == uuid)).first()
        if row is None:
            raise NotFound(f"migration {uuid!r} not found")
        return _record(row)

    def list_migrations(self, instance=None, host=None, active=False, limit=None):
        """Migration records, oldest first; filtered by instance, by host (source or
        destination), or to the active ones (their destination claim is held)."""
        query = select(MIGRATIONS).order_by(MIGRATIONS.c.created_at, MIGRATIONS.c.uuid)
        if instance is not None:
            query = query.where(MIGRATIONS.c.instance_uuid == instance)
        if host is not None:
            query = query.where((MIGRATIONS.c.source_host == host)
                                | (MIGRATIONS.c.dest_host == host))
        if active:
            query = query.where(MIGRATIONS.c.status.in_(models.MOVE_ACTIVE))
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            return [_record(row) for row in conn.execute(query)]

    def move_claims(self, host=None):
        """HeldInstance of every active move's destination claim (on ``host``), keyed by
        the migration uuid: what the warm view holds beside the instances' claims."""
        query, values = (MOVE_CLAIMS, {}) if host is None else (MOVE_CLAIMS_ON_HOST, {'h': host})
        with self.engine.connect() as conn:
            rows = list(conn.execute(query, values))
        # A moving member counts on its destination too (server group policies).
        return [HeldInstance(consumer_assignment(_record(row)), row.name,
                             ((row.spec or {}).get('server_group') or {}).get('name'),
                             row.created_at)
                for row in rows if row.dest_assignment is not None]
