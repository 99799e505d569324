"""Make room (RPC 1.7): ``explain(make_room=True)`` answers the plan of live migrations
after which a request fits (scheduler.make_room); ``boot(make_room=True)`` carries the
moves out one after the other, each claimed and verified like any live migration
(scheduler.mover), then places the request as a plain boot does.

All-or-nothing for the request: when a move fails (or the plan cannot be carried out),
the boot fails with OperationFailed, nothing of the request is booted, and the instances
already moved stay ACTIVE where they landed.

Mixed into SchedulerManager, which provides ``store``, ``state``, ``lock``, ``engine``,
``mover`` and ``_background``.
"""

import logging
import time

from oslo_config import cfg

from scheduler import claims, make_room
from scheduler.store import ACTIVE, NotFound, models
from wire import context, rpc
from wire.request_spec import RequestSpec

LOG = logging.getLogger(__name__)

room_opts = [
    cfg.IntOpt('make_room_max_moves', default=3, min=1, max=8,
               help='Live migrations a make-room plan (explain/boot --make-room) may hold. '
                    'The search costs up to make_room_max_hosts x sum of C(12, k) for '
                    'k = 1..make_room_max_moves exact fits (298 per host at 3; 793 at 4): '
                    'see docs/migration.md.'),
    cfg.IntOpt('make_room_max_hosts', default=8, min=1, max=64,
               help='Hosts a make-room plan may free room on (the closest to taking the '
                    'request first; up to 4 times as many are examined to find them).'),
]
cfg.CONF.register_opts(room_opts, group='scheduler')

# Seconds between two looks at the store while a make-room move runs
POLL_S = 0.05


def list_opts():
    return [('scheduler', room_opts)]


def room_settings():
    return make_room.RoomSettings(max_moves=cfg.CONF.scheduler.make_room_max_moves,
                                  max_hosts=cfg.CONF.scheduler.make_room_max_hosts)


class RoomEndpoints:
    """The make-room steps of explain and boot; see the module docstring."""

    def _room_plan(self, spec, uuids, placement=None):
        """The RoomPlan of ``spec`` for ``uuids`` on the warm view (lock held);
        ``placement``: the request's Placement on that view, when known."""
        plan = make_room.plan(self.engine, self.state.fleet, spec, uuids, self._movables(),
                              room_settings(), placement)
        LOG.info('Make room for %s: %s in %.3fs (%d host(s), %d set(s) tried)', spec.name,
                 f"{len(plan.moves)} move(s)" if plan.found else plan.reason, plan.seconds,
                 plan.hosts_searched, plan.sets_tried)
        return plan

    def _movables(self):
        """Instances a plan may move live: ACTIVE, idle, placed by the scheduler (a spec),
        not SEV (the mover's rule), on a host that is up; with what they hold."""
        held = {h.assignment.instance: h.assignment for h in self.store.held_instances()}
        movable = []
        for record in self.store.list_instances(state=ACTIVE):
            assignment = held.get(record.uuid)
            if record.task or assignment is None or assignment.host != record.host or \
                    not record.spec or not self.state.up.get(record.host, False) or \
                    not make_room.live_movable(record.spec):
                continue
            spec = claims.single(RequestSpec.from_dict(record.spec))
            movable.append(make_room.Movable(record.uuid, assignment, spec))
        return movable

    def _make_room(self, spec, uuids):
        """Plan, then run each move to its end; raises BusError when the request gets no
        room (NoValidHost: no plan; OperationFailed: a move failed)."""
        with self.lock:
            plan = self._room_plan(spec, uuids)
        if not plan.found:
            raise rpc.BusError(rpc.NO_VALID_HOST, f"{spec.name}: make room: {plan.reason}",
                               {'make_room': plan.to_dict()})
        moved = []
        for move in plan.moves:
            failure = self._room_move(move)
            if failure:
                done = ', '.join(f"{m['instance']} to {m['destination']}" for m in moved)
                raise rpc.BusError(
                    rpc.OPERATION_FAILED,
                    f"{spec.name}: make room: moving {move.instance} from {move.source} to "
                    f"{move.destination} failed: {failure}; nothing booted"
                    + (f"; moved (ACTIVE where they landed): {done}" if done else ''),
                    {'make_room': plan.to_dict(), 'moved': moved,
                     'failed': {move.instance: failure}})
            moved.append({'instance': move.instance, 'source': move.source,
                          'destination': move.destination})
        return plan

    def _room_move(self, move):
        """Run one planned move as a live migration to its destination; '' when it is
        done, else why not."""
        with self.lock:
            try:
                record = self.store.get_instance(move.instance)
            except NotFound:
                return 'the instance is gone'
            if record.host != move.source or record.state != ACTIVE or record.task:
                task = f" ({record.task})" if record.task else ''
                return f"it is {record.state}{task} on {record.host} now"
            try:
                migration = self.mover.start(record, models.LIVE, host=move.destination,
                                             request_id=context.current_request_id())
            except rpc.BusError as exc:
                return exc.one_line()
        self._background(self.mover.run, migration, record)
        return self._moved(migration.uuid)

    def _moved(self, migration_uuid):
        """Wait for the migration to end ([scheduler] migration_timeout at most)."""
        deadline = time.monotonic() + cfg.CONF.scheduler.migration_timeout
        while True:
            migration = self.store.get_migration(migration_uuid)
            if migration.status == models.DONE:
                return ''
            if migration.status in (models.FAILED, models.REVERTED):
                return migration.reason or f"migration {migration_uuid} failed"
            if time.monotonic() > deadline:
                return (f"migration {migration_uuid} still {migration.status} after "
                        f"{cfg.CONF.scheduler.migration_timeout:.0f}s")
            time.sleep(POLL_S)
