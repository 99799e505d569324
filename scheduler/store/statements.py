"""SQL statements of the store's hot paths, built once.

Every boot (claim), every finished build and every host heartbeat runs these.
Building a SQLAlchemy statement and computing its cache key cost more than
running it on SQLite, so each is built at import, with bind parameters.
"""

from sqlalchemy import bindparam, case, insert, select, update

from scheduler.store import models
from scheduler.store.changes import change_stamp

HOSTS = models.Host.__table__
INSTANCES = models.Instance.__table__
ALLOCATIONS = models.Allocation.__table__
# What an InstanceRecord holds (cast_pending is read by its own statements only)
INSTANCE_RECORD = tuple(c for c in INSTANCES.c if c.name != 'cast_pending')

# A boot's claim (Store.claim).
INSERT_INSTANCE = insert(models.Instance)
INSERT_ALLOCATION = insert(models.Allocation)
INSERT_RESOURCES = insert(models.AllocatedResource)
BUMP_GENERATION = (update(HOSTS)
                   .where(HOSTS.c.name == bindparam('h'), HOSTS.c.generation == bindparam('g'))
                   .values(generation=HOSTS.c.generation + 1, changed_seq=change_stamp()))

# A claim's build: pending from the claim's commit until it is cast (Store.builds_cast,
# Store.pending_builds).
MARK_CAST_PENDING = (update(INSTANCES).where(INSTANCES.c.uuid == bindparam('u'))
                     .values(cast_pending=True))
BUILD_CAST = (update(INSTANCES).where(INSTANCES.c.uuid == bindparam('u'))
              .values(cast_pending=False))
PENDING_BUILDS = (select(INSTANCES.c.uuid, INSTANCES.c.name, INSTANCES.c.request,
                         INSTANCES.c.spec, ALLOCATIONS.c.assignment)
                  .join(ALLOCATIONS, ALLOCATIONS.c.instance_uuid == INSTANCES.c.uuid)
                  .where(INSTANCES.c.cast_pending.is_(True),
                         INSTANCES.c.state == models.BUILDING,
                         INSTANCES.c.updated_at <= bindparam('before')))

# A finished build: BUILDING -> ACTIVE on its host (Store.finish_builds).  A delete asked
# meanwhile stays in flight: only its own answer (or reconciliation) ends it.
FINISH_BUILD = (update(INSTANCES)
                .where(INSTANCES.c.uuid == bindparam('u'), INSTANCES.c.host == bindparam('h'),
                       INSTANCES.c.state == models.BUILDING)
                .values(state=models.ACTIVE, reason=None,
                        task=case((INSTANCES.c.task == models.DELETING, models.DELETING),
                                  else_=None),
                        updated_at=bindparam('now')))

# A host report (Store.upsert_host, Store.held_instances).
HOST_FOR_UPDATE = select(HOSTS).where(HOSTS.c.name == bindparam('n')).with_for_update()
INSERT_HOST = insert(HOSTS).values(changed_seq=change_stamp())
HEARTBEAT = (update(HOSTS).where(HOSTS.c.name == bindparam('n'))
             .values(last_heartbeat=bindparam('now')))
NEW_TOPOLOGY = (update(HOSTS).where(HOSTS.c.name == bindparam('n'))
                .values(topology=bindparam('t', type_=HOSTS.c.topology.type),
                        last_heartbeat=bindparam('now'), generation=HOSTS.c.generation + 1,
                        changed_seq=change_stamp()))
GENERATION = select(HOSTS.c.generation).where(HOSTS.c.name == bindparam('n'))
# Every scheduler's liveness check (Store.host_liveness): no topology, no JSON.
LIVENESS = select(HOSTS.c.name, HOSTS.c.generation, HOSTS.c.enabled, HOSTS.c.last_heartbeat)
HELD = (select(ALLOCATIONS.c.assignment, ALLOCATIONS.c.claimed_at, INSTANCES.c.name,
               INSTANCES.c.spec)
        .join(INSTANCES, INSTANCES.c.uuid == ALLOCATIONS.c.instance_uuid))
# One host reloaded into a view (WarmState.refresh_host: a conflict, a catch-up).
HELD_ON_HOST = HELD.where(ALLOCATIONS.c.host == bindparam('h'))
HOST_ROW = select(HOSTS.c.name, HOSTS.c.topology, HOSTS.c.generation, HOSTS.c.enabled,
                  HOSTS.c.disabled_reason, HOSTS.c.last_heartbeat).where(
                      HOSTS.c.name == bindparam('n'))
