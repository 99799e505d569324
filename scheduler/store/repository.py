"""The scheduler's store: hosts, instances, allocations and atomic claims.

A claim is one transaction: bump the host's generation if (and only if) it
still is the generation the placement was computed against, then write the
allocation and one row per exclusively held resource.  A stale generation or
a resource already held raises ClaimConflict and writes nothing; the caller
refits on fresh state.
"""

import contextlib
import dataclasses
import logging
import threading
import time

from oslo_db import api as db_api
from oslo_db import exception as db_exc
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from scheduler.store import changes, models, schema
from scheduler.store import statements as sql
from scheduler.store.changes import change_stamp
from scheduler.store.database import default_connection, is_sqlite, make_engine
from scheduler.store.moves import MoveStore
from scheduler.store.records import (
    ClaimConflict,
    HeldInstance,
    NotFound,
    integrity_violation,
    resource_keys,
)
from scheduler.store.turns import DecisionTurns
from wire.assignment import Assignment

LOG = logging.getLogger(__name__)

# Statements that lock several instance rows take them in uuid order, so two of
# them never wait for each other in a cycle; a deadlock still reported (with rows
# some other statement locks) is retried: these writes are idempotent.
retry_on_deadlock = db_api.wrap_db_retry(max_retries=5, retry_on_deadlock=True,
                                         retry_interval=0.05, max_retry_interval=0.5)


@dataclasses.dataclass(frozen=True)
class HostRecord:
    name: str
    topology: dict
    generation: int
    enabled: bool
    disabled_reason: str | None
    last_heartbeat: float | None


@dataclasses.dataclass(frozen=True)
class InstanceRecord:
    uuid: str
    name: str
    request: dict
    spec: dict | None
    state: str
    task: str | None
    host: str | None
    reason: str | None
    attempts: list
    alternates: list
    created_at: float
    updated_at: float
    assignment: dict | None = None

    def to_dict(self):
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class GroupRecord:
    name: str
    policy: str
    max_server_per_host: int | None
    created_at: float

    def to_dict(self):
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class PendingBuild:
    """What a build cast needs of an instance whose build was never cast."""
    uuid: str
    name: str
    request: dict
    spec: dict | None
    assignment: dict


def _host_record(row):
    return HostRecord(row.name, row.topology, row.generation, row.enabled,
                      row.disabled_reason, row.last_heartbeat)


def _instance_record(row, assignment=None):
    return InstanceRecord(row.uuid, row.name, row.request, row.spec, row.state, row.task,
                          row.host, row.reason, list(row.attempts or []),
                          list(row.alternates or []), row.created_at, row.updated_at,
                          assignment)


class Store(MoveStore):
    """Repository over one database; thread-safe (one session per operation).

    ``settings`` (database.DatabaseSettings) sizes the pool and the start-up retries of
    a server database; by default it is connected once, without retries.
    """

    def __init__(self, url=None, clock=time.time, settings=None):
        self.url = url or default_connection()
        self.clock = clock
        self.engine = make_engine(self.url, settings)
        self.session = sessionmaker(self.engine, expire_on_commit=False)
        # SQLite has one writer at a time; a second writer waits in SQLite's busy
        # handler, which sleeps 1, 2, 5, 10... ms between retries.  A claim (under
        # the scheduler lock) stuck behind an agent's update stalled every boot, so
        # this process's writers queue on a mutex instead (handed over at once).
        # PostgreSQL locks rows: no mutex.
        self._writer = threading.RLock() if is_sqlite(self.url) else contextlib.nullcontext()
        self._changes = changes.ChangeReader(self.engine)   # before every decision
        self._turns = DecisionTurns(self.engine, bool(settings and settings.decisions_in_turn))

    def create_schema(self):
        """Migrate the database to this code's schema (``db sync``); returns self.

        For tests and tools that make their own store; a scheduler only checks
        (``check_schema``) unless [database] sync_on_startup is set.
        """
        with self._writer:
            schema.sync(self.engine)
        return self

    def check_schema(self, sync_command=schema.SYNC_COMMAND):
        """Raise schema.SchemaError unless the database is at this code's schema."""
        schema.check(self.engine, sync_command)
        return self

    def schema_version(self):
        with self.session() as session:
            return session.scalar(select(models.SchemaVersion.version)
                                  .order_by(models.SchemaVersion.version.desc()))

    def decision_turn(self):
        """Context: this scheduler's turn to decide and claim (scheduler/store/turns.py)."""
        return self._turns.turn()

    def dispose(self):
        self._turns.close()
        self._changes.close()
        self.engine.dispose()

    # -- hosts -------------------------------------------------------------
    def upsert_host(self, topology, now=None):
        """Record a host report; the generation moves only when the topology changed.

        Returns (HostRecord, created, changed).  SQL Core: every heartbeat of every
        host comes through here.
        """
        now = self.clock() if now is None else now
        name = topology['name']
        with self._writer, self.engine.begin() as conn:
            row = conn.execute(sql.HOST_FOR_UPDATE, {'n': name}).first()
            if row is None:
                conn.execute(sql.INSERT_HOST, [{'name': name, 'topology': topology,
                                                'generation': 0, 'enabled': True,
                                                'last_heartbeat': now}])
                return HostRecord(name, topology, 0, True, None, now), True, True
            changed = row.topology != topology
            if changed:   # increment in SQL: a concurrent claim's bump is never lost
                conn.execute(sql.NEW_TOPOLOGY, {'n': name, 't': topology, 'now': now})
            else:
                conn.execute(sql.HEARTBEAT, {'n': name, 'now': now})
            generation = conn.execute(sql.GENERATION, {'n': name}).scalar_one()
            return (HostRecord(name, topology if changed else row.topology, generation,
                               row.enabled, row.disabled_reason, now), False, changed)

    def get_host(self, name):
        with self.engine.connect() as conn:    # Core: every view reload reads this
            row = conn.execute(sql.HOST_ROW, {'n': name}).first()
        if row is None:
            raise NotFound(f"host {name!r} is not known")
        return _host_record(row)

    def list_hosts(self):
        with self.session() as session:
            return [_host_record(r) for r in session.scalars(
                select(models.Host).order_by(models.Host.name))]

    def iter_hosts(self, page=500):
        """Every HostRecord by name, read ``page`` hosts at a time (each page a short
        read of its own): a scheduler loading 10,000 hosts never holds every stored
        topology's JSON at once."""
        after = None
        while True:
            query = select(models.Host).order_by(models.Host.name).limit(page)
            if after is not None:
                query = query.where(models.Host.name > after)
            with self.session() as session:
                records = [_host_record(r) for r in session.scalars(query)]
            yield from records
            if len(records) < page:
                return
            after = records[-1].name

    def host_liveness(self):
        """(name, generation, enabled, last_heartbeat) of every host: what any scheduler
        recorded, read without the topologies (a liveness check reads all hosts)."""
        with self.engine.connect() as conn:
            return [tuple(row) for row in conn.execute(sql.LIVENESS)]

    def host_changes(self, since):
        """(horizon, [(name, generation, enabled), ...]): the hosts changed at or past
        ``since`` and the next ``since`` (scheduler/store/changes.py).  None: every
        host, as at a view's first load."""
        rows = self._changes.rows(since)
        return rows[0][0], [tuple(row[1:]) for row in rows if row[1] is not None]

    def change_horizon(self):
        """The ``since`` of the next ``host_changes``: what is visible now is seen."""
        with self.engine.connect() as conn:
            return conn.execute(changes.HORIZON).scalar_one()

    def set_host_enabled(self, name, enabled, reason=None):
        with self._writer, self.session.begin() as session:
            row = session.get(models.Host, name)
            if row is None:
                raise NotFound(f"host {name!r} is not known")
            row.enabled = enabled
            row.changed_seq = change_stamp()
            row.disabled_reason = None if enabled else reason
            return _host_record(row)

    # -- allocations and claims -------------------------------------------
    def claim(self, assignment, expected_generation, now=None, new_instance=None):
        """Atomically hold ``assignment`` on its host; returns the new generation.

        Raises ClaimConflict (nothing written) if the host's generation is not
        ``expected_generation`` or any of its resources is already held.
        ``new_instance`` (column values) inserts the instance in the same
        transaction, so a boot costs one commit.
        """
        now = self.clock() if now is None else now
        # SQL Core, not the ORM: this is the hot path of every boot.
        try:
            with self._writer, self.engine.begin() as conn:
                if new_instance is not None:
                    conn.execute(sql.INSERT_INSTANCE, [_new_instance_values(new_instance, now)])
                else:
                    conn.execute(sql.MARK_CAST_PENDING, {'u': assignment.instance})
                bumped = conn.execute(sql.BUMP_GENERATION, {'h': assignment.host,
                                                            'g': expected_generation})
                if bumped.rowcount != 1:
                    raise ClaimConflict(f"host {assignment.host}: generation "
                                        f"{expected_generation} is stale")
                conn.execute(sql.INSERT_ALLOCATION, [{
                    'instance_uuid': assignment.instance, 'host': assignment.host,
                    'assignment': assignment.to_dict(), 'claimed_at': now}])
                keys = resource_keys(assignment)
                if keys:
                    conn.execute(sql.INSERT_RESOURCES, [
                        {'host': assignment.host, 'kind': kind, 'key': key,
                         'instance_uuid': assignment.instance} for kind, key in keys])
        except (IntegrityError, db_exc.DBError) as exc:
            # Never retried here: the caller refits on fresh state.
            if not integrity_violation(exc):
                raise
            raise ClaimConflict(f"host {assignment.host}: a resource of instance "
                                f"{assignment.instance} is already held "
                                f"({type(exc).__name__})") from None
        return expected_generation + 1

    @retry_on_deadlock
    def builds_cast(self, uuids):
        """The builds of ``uuids`` have been cast: no longer pending."""
        if uuids:
            with self._writer, self.engine.begin() as conn:
                conn.execute(sql.BUILD_CAST, [{'u': uuid} for uuid in sorted(set(uuids))])

    def pending_builds(self, before=None):
        """PendingBuild of every BUILDING instance whose claim was committed (last
        changed at or before ``before``) and whose build was never cast."""
        before = self.clock() if before is None else before
        with self.engine.connect() as conn:
            return [PendingBuild(uuid, name, request, spec, assignment)
                    for uuid, name, request, spec, assignment
                    in conn.execute(sql.PENDING_BUILDS, {'before': before})]

    def release(self, instance_uuid):
        """Free an instance's claim; returns (host, new generation) or None."""
        with self._writer, self.session.begin() as session:
            row = session.get(models.Allocation, instance_uuid)
            if row is None:
                return None
            host = row.host
            session.execute(delete(models.AllocatedResource)
                            .where(models.AllocatedResource.instance_uuid == instance_uuid))
            session.delete(row)
            # A move of this instance ends with its claims (its rows went above).
            session.execute(update(models.Migration).where(
                models.Migration.instance_uuid == instance_uuid,
                models.Migration.status.in_(models.MOVE_ACTIVE))
                .values(status=models.FAILED, reason='instance claim released'))
            session.flush()
            session.execute(update(models.Host).where(models.Host.name == host)
                            .values(generation=models.Host.generation + 1,
                                    changed_seq=change_stamp()))
            generation = session.scalar(select(models.Host.generation)
                                        .where(models.Host.name == host))
            return host, generation

    def host_allocations(self, name):
        """The Assignments held on host ``name``, and the generation read with them."""
        with self.session() as session:
            generation = session.scalar(select(models.Host.generation)
                                        .where(models.Host.name == name))
            rows = session.scalars(select(models.Allocation)
                                   .where(models.Allocation.host == name))
            return [Assignment.from_dict(r.assignment) for r in rows], generation

    def held_instances(self, host=None):
        """HeldInstance of every claim (on ``host``), with name and server group."""
        query, values = (sql.HELD, {}) if host is None else (sql.HELD_ON_HOST, {'h': host})
        with self.engine.connect() as conn:    # Core: every report reads this
            return [HeldInstance(Assignment.from_dict(assignment), name,
                                 _group_of(spec),
                                 claimed_at)
                    for assignment, claimed_at, name, spec in conn.execute(query, values)]

    def all_allocations(self):
        with self.session() as session:
            return [Assignment.from_dict(r.assignment)
                    for r in session.scalars(select(models.Allocation))]

    def held_resources(self):
        """Every (host, kind, key, instance) row: for audits and tests."""
        table = models.AllocatedResource.__table__
        with self.engine.connect() as conn:    # the columns of every revision
            return [tuple(row) for row in conn.execute(select(
                table.c.host, table.c.kind, table.c.key, table.c.instance_uuid))]

    # -- instances ---------------------------------------------------------
    def create_instance(self, uuid, name, request, spec, state, reason=None, now=None):
        """Insert an instance; returns (record, created). Existing uuid: no change."""
        now = self.clock() if now is None else now
        try:
            with self._writer, self.session.begin() as session:
                row = models.Instance(uuid=uuid, name=name, request=request, spec=spec,
                                      state=state, reason=reason, attempts=[], alternates=[],
                                      created_at=now, updated_at=now)
                session.add(row)
                session.flush()
                return _instance_record(row), True
        except (IntegrityError, db_exc.DBError) as exc:
            if not integrity_violation(exc):
                raise
            return self.get_instance(uuid), False

    def get_instance(self, uuid):
        with self.session() as session:
            row = session.get(models.Instance, uuid)
            if row is None:
                raise NotFound(f"instance {uuid!r} not found")
            allocation = session.get(models.Allocation, uuid)
            return _instance_record(row, allocation.assignment if allocation else None)

    def find_instances(self, name):
        with self.session() as session:
            rows = session.scalars(select(models.Instance).where(models.Instance.name == name))
            return [_instance_record(r) for r in rows]

    def list_instances(self, state=None, host=None, include_deleted=False):
        query = select(*sql.INSTANCE_RECORD).order_by(sql.INSTANCES.c.created_at)
        if state:
            query = query.where(sql.INSTANCES.c.state == state)
        elif not include_deleted:
            query = query.where(sql.INSTANCES.c.state != models.DELETED)
        if host:
            query = query.where(sql.INSTANCES.c.host == host)
        with self.engine.connect() as conn:    # Core: every report reads this
            return [_instance_record(r) for r in conn.execute(query)]

    @retry_on_deadlock
    def finish_builds(self, finished, now=None):
        """BUILDING -> ACTIVE for each (uuid, host), in one transaction; a bool per item.

        An item is True when the instance was BUILDING on that host (the common
        case of an agent's batch of results); False items changed nothing and
        take the general path.  One commit for the whole batch, rows in uuid order.
        """
        if not finished:
            return []
        now = self.clock() if now is None else now
        done = {}
        with self._writer, self.engine.begin() as conn:
            for u, h in sorted(set(finished)):
                done[u, h] = conn.execute(sql.FINISH_BUILD,
                                          {'u': u, 'h': h, 'now': now}).rowcount == 1
        return [done[item] for item in finished]

    def update_instance(self, uuid, now=None, **values):
        """Set columns of one instance; returns the new record."""
        return self._update_instance(uuid, now, values, unless_deleted=False)

    def update_live_instance(self, uuid, now=None, **values):
        """``update_instance`` unless the instance is DELETED, which is final: then
        nothing changes and its record is returned.  The row is locked from the read to
        the write, so a delete committed meanwhile by another scheduler is seen."""
        return self._update_instance(uuid, now, values, unless_deleted=True)

    def _update_instance(self, uuid, now, values, unless_deleted):
        values['updated_at'] = self.clock() if now is None else now
        with self._writer, self.session.begin() as session:
            row = session.get(models.Instance, uuid, with_for_update=unless_deleted)
            if row is None:
                raise NotFound(f"instance {uuid!r} not found")
            if unless_deleted and row.state == models.DELETED:
                return _instance_record(row)
            for key, value in values.items():
                setattr(row, key, value)
            session.flush()
            return _instance_record(row)


    # -- server groups -----------------------------------------------------
    def create_server_group(self, name, policy, max_server_per_host=None, now=None):
        """Insert a group; returns (record, created).  An existing name: no change."""
        now = self.clock() if now is None else now
        try:
            with self._writer, self.session.begin() as session:
                row = models.ServerGroup(name=name, policy=policy, created_at=now,
                                         max_server_per_host=max_server_per_host)
                session.add(row)
                session.flush()
                return _group_record(row), True
        except (IntegrityError, db_exc.DBError) as exc:
            if not integrity_violation(exc):
                raise
            return self.get_server_group(name), False

    def get_server_group(self, name):
        with self.session() as session:
            row = session.get(models.ServerGroup, name)
            if row is None:
                raise NotFound(f"server group {name!r} not found")
            return _group_record(row)

    def list_server_groups(self):
        with self.session() as session:
            rows = session.scalars(select(models.ServerGroup)
                                   .order_by(models.ServerGroup.created_at))
            return [_group_record(r) for r in rows]

    def group_members(self, name):
        """The instances (not DELETED) whose spec names group ``name``, oldest first."""
        return [r for r in self.list_instances() if _group_of(r.spec) == name]

    def group_member_counts(self):
        """{group name: its instances not DELETED}, in one pass over the instances."""
        counts = {}
        for record in self.list_instances():
            group = _group_of(record.spec)
            if group is not None:
                counts[group] = counts.get(group, 0) + 1
        return counts

    def delete_server_group(self, name):
        """Remove a group without members; returns its record.

        Raises NotFound, or GroupInUse naming the members: an instance keeps its
        group's name in its spec, so a later group of that name would inherit it.
        """
        with self._writer, self.session.begin() as session:
            row = session.get(models.ServerGroup, name)
            if row is None:
                raise NotFound(f"server group {name!r} not found")
            members = self.group_members(name)
            if members:
                raise GroupInUse(name, [m.uuid for m in members])
            record = _group_record(row)
            session.delete(row)
            return record


class GroupInUse(Exception):
    def __init__(self, name, members):
        super().__init__(f"server group {name!r} has {len(members)} member(s) "
                         f"({', '.join(members[:5])}{', ...' if len(members) > 5 else ''}): "
                         'delete them first')
        self.members = members


def _group_of(spec):
    return ((spec or {}).get('server_group') or {}).get('name')


def _group_record(row):
    return GroupRecord(row.name, row.policy, row.max_server_per_host, row.created_at)


def _new_instance_values(values, now):
    result = {'attempts': [], 'alternates': [], 'created_at': now, 'updated_at': now,
              'cast_pending': True}     # the claim's build is cast after the commit
    result.update(values)
    return result
