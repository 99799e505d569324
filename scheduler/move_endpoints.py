"""The scheduler's move endpoints: migrate, host drain, evacuate, migrations (RPC 1.5);
resize, resize_confirm, resize_revert (1.6).

Mixed into SchedulerManager, which provides ``store``, ``state``, ``lock``,
``mover`` (scheduler.mover), ``_find``, ``_parse`` and ``_notify_move``.  Operators' calls are
validated like every other endpoint; the agents' answers (``migration_update``,
``placed_elsewhere``) are believed only when signed by the host they name.
"""

import logging
import threading

from oslo_config import cfg

from scheduler import moves, payloads, trust
from scheduler.drain import Drain
from scheduler.store import ACTIVE, DELETED, ERROR, MIGRATING, RESIZED, NotFound, models
from wire import arguments, context, rpc
from wire.notifications import host_drain, instance_migration

LOG = logging.getLogger(__name__)

move_opts = [
    cfg.IntOpt('drain_concurrency', default=4, min=1, max=64,
               help='Migrations a host drain runs at the same time (the host_drain '
                    'argument concurrency overrides it).'),
    cfg.FloatOpt('migration_prepare_timeout', default=60.0, min=1.0,
                 help='Seconds the scheduler waits for a destination agent to verify and '
                      'prepare a migration before it aborts the move.'),
    cfg.FloatOpt('migration_timeout', default=600.0, min=1.0,
                 help='Seconds a drain waits for one migration before it reports it as '
                      'stuck (the move itself is left to finish or fail).'),
    cfg.BoolOpt('evacuate_on_host_down', default=False,
                help='Evacuate the instances that opted in (flavor extra spec '
                     'kvmfleet:ha=true) from a host down for evacuate_down_time seconds. '
                     'Only safe when a down host is really stopped (fenced): see '
                     'docs/migration.md.'),
    cfg.IntOpt('resize_confirm_window', default=0, min=0,
               help='Seconds after which a resize waiting for confirmation (RESIZED) is '
                    'confirmed by the scheduler itself (its source claim freed); 0: never, '
                    'the operator confirms or reverts.'),
    cfg.IntOpt('evacuate_down_time', default=300, min=0,
               help='Seconds a host must have been down before evacuate_on_host_down '
                    'evacuates its opted-in instances.'),
]
cfg.CONF.register_opts(move_opts, group='scheduler')

HA_KEY = 'kvmfleet:ha'
MOVE_RESULTS = ('migrated', 'failed')
# What a resize request may set; the rest comes from the instance's stored request
KEPT_FOR_RESIZE = ('ports', 'server_group', 'image')
# An instance's name, count and server group (its membership) are set at boot
NOT_IN_RESIZE = ('count', 'min_count', 'name', 'server_group')


def resize_request(stored, request):
    """The boot-style request of an instance resized by ``request``: its sizing
    (flavor, or vcpus/memory_mb/extra_specs/image_properties) from ``request``,
    ports and image from the ``stored`` request when absent, its server group
    always the stored one."""
    for key in NOT_IN_RESIZE:
        if key in request:
            raise rpc.invalid(f"request.{key}", 'a resize changes the size of one instance, '
                              'not its name, count or server group')
    merged = {key: stored[key] for key in KEPT_FOR_RESIZE if key in (stored or {})}
    merged.update(request)
    return merged


def list_opts():
    return [('scheduler', move_opts)]


def wants_ha(spec):
    """Whether an instance of ``spec`` (stored dict) opted in to automatic evacuation."""
    value = ((spec or {}).get('extra_specs') or {}).get(HA_KEY)
    return str(value).strip().lower() in ('true', '1', 'yes')


class MoveEndpoints:
    """Endpoints of moves; see the module docstring."""

    drains = None
    # Runs a migration or a drain: a thread; tests may run them in line.
    spawn = None

    def _notify_move(self, event, payload, error=False):
        """The one hook of moves, drains and evacuations (scheduler.mover, drain): their
        versioned notifications (wire.notifications: InstanceMigrationPayload,
        HostDrainPayload), built only when notifications are on."""
        (LOG.warning if error else LOG.info)('%s %s', event, payload)
        if event.startswith('host.drain.'):
            self.notifier.notify(event, host_drain, payload['host'], payload.get('instances'),
                                 payload.get('moved'), payload.get('failed'))
        else:
            self.notifier.notify(event, self._migration_payload, event, payload)

    def _migration_payload(self, event, payload):
        record = self.store.get_instance(payload['instance'])
        source, destination = payload.get('source'), payload.get('destination')
        if payload.get('migration') and destination is None:
            migration = self.store.get_migration(payload['migration'])
            source, destination = migration.source_host, migration.dest_host
        return instance_migration(payloads.record_facts(record), payload.get('migration'),
                                  moves.kind_of(event), source or record.host,
                                  destination, payload.get('reason'))

    @rpc.endpoint
    def migrate(self, ctxt, instance, live=False, host=None):
        """Move an ACTIVE instance to another host (1.5); answers its migration record."""
        live = rpc.check(live, bool, 'live')
        if host is not None:
            arguments.host_name(host, 'host')
        record = self._find(instance)
        self._movable(record)
        if host == record.host:
            raise rpc.invalid('host', f"{host} is the instance's own host")
        kind = 'live' if live else 'cold'
        if live and moves.kind_for(record.spec, live) != kind:
            raise rpc.BusError(rpc.CONFLICT, f"instance {record.uuid} uses SEV memory "
                               'encryption: LIVE_MIGRATION_UNSUPPORTED (migrate it cold)')
        with self.lock:
            migration = self.mover.start(record, kind, host=host,
                                         request_id=context.current_request_id())
        if migration.status != models.FAILED:
            self._background(self.mover.run, migration, record)
        return migration.to_dict()

    def _movable(self, record):
        if record.state != ACTIVE or record.task:
            raise rpc.BusError(rpc.CONFLICT, f"cannot move instance {record.uuid} in state "
                               f"{record.state}" + (f" ({record.task})" if record.task else ''))
        if not self.state.up.get(record.host, False):
            raise rpc.BusError(rpc.OPERATION_FAILED, f"host {record.host} is down: evacuate it")

    # -- resize (1.6) ---------------------------------------------------------------
    @rpc.endpoint
    def resize(self, ctxt, instance, request):
        """Move an ACTIVE instance, cold, to a placement of a new size (1.6); answers its
        migration record.  The instance goes RESIZED once the destination runs it."""
        rpc.check(request, dict, 'request')
        record = self._find(instance)
        self._movable(record)
        if not record.spec:
            raise rpc.BusError(rpc.CONFLICT, f"instance {record.uuid} has no request spec "
                               '(adopted from a host report): it cannot be resized')
        merged = resize_request(record.request, request)
        spec = self._parse(dict(merged, name=record.name))
        with self.lock:
            migration = self.mover.start(record, models.RESIZE, same_host=True,
                                         request_id=context.current_request_id(),
                                         resize=(spec, merged))
        self._background(self.mover.run, migration, record)
        return migration.to_dict()

    def _resize_of(self, record, states):
        """The instance's resize waiting for confirm or revert (CONFLICT otherwise)."""
        waiting = [m for m in self.store.list_migrations(instance=record.uuid, active=True)
                   if m.kind == models.RESIZE and m.status == models.FINISHED]
        if not waiting or record.state not in states:
            raise rpc.BusError(rpc.CONFLICT, f"instance {record.uuid} ({record.state}) has no "
                               'resize waiting for confirmation')
        return waiting[0]

    @rpc.endpoint
    def resize_confirm(self, ctxt, instance):
        """Keep the new size: the source claim and copy are freed (1.6)."""
        record = self._find(instance)
        migration = self.mover.confirm(self._resize_of(record, (RESIZED,)))
        return self._ended(migration, record)

    @rpc.endpoint
    def resize_revert(self, ctxt, instance):
        """Back to the old size on the source: the destination claim and copy are freed,
        the source's kept copy started again (1.6)."""
        record = self._find(instance)
        migration = self.mover.revert(self._resize_of(record, (RESIZED, ERROR)))
        return self._ended(migration, record)

    @staticmethod
    def _ended(migration, record):
        if migration is None:
            raise rpc.BusError(rpc.CONFLICT, f"the resize of {record.uuid} ended meanwhile")
        return migration.to_dict()

    def resize_update(self, record, host, state, reason):
        """An instance_update of a resizing instance (lock held): the destination's
        answer to finish_migration makes it RESIZED; True when it was that."""
        if record.state != MIGRATING or record.task != models.MOVE_TASKS[models.RESIZE]:
            return False
        for migration in self.store.list_migrations(instance=record.uuid, active=True):
            if migration.status == models.FINISHED and migration.dest_host == host:
                self.mover.verified(migration, state, reason)
                return True
        return False

    def confirm_resizes(self, window):
        """Auto-confirm: resizes RESIZED for ``window`` seconds since the guest moved."""
        now = self.clock()
        for migration in self.store.list_migrations(active=True):
            if migration.kind != models.RESIZE or migration.status != models.FINISHED or \
                    now - migration.updated_at < window:
                continue
            if self.store.get_instance(migration.instance_uuid).state != RESIZED:
                continue
            LOG.info('Resize %s of %s waited %.0fs: confirming', migration.uuid,
                     migration.instance_uuid, now - migration.updated_at)
            try:
                self.mover.confirm(migration)
            except Exception:     # the liveness check goes on; the next one tries again
                LOG.exception('Automatic confirm of resize %s failed', migration.uuid)

    @rpc.endpoint
    def migrations(self, ctxt, instance=None, host=None, active=False):
        """Migration records, oldest first (1.5), by instance, host, or only active."""
        if instance is not None:
            instance = self._find(instance).uuid
        if host is not None:
            arguments.host_name(host, 'host')
        active = rpc.check(active, bool, 'active')
        return {'migrations': [m.to_dict() for m in self.store.list_migrations(
            instance=instance, host=host, active=active)]}

    @rpc.endpoint
    def host_drain(self, ctxt, host, live=True, concurrency=None):
        """Disable ``host`` and move every ACTIVE instance off it (1.5); the progress.

        A drain already running on the host answers its progress.
        """
        arguments.host_name(host, 'host')
        live = rpc.check(live, bool, 'live')
        if concurrency is not None:
            rpc.check(concurrency, int, 'concurrency')
            if not 1 <= concurrency <= 64:
                raise rpc.invalid('concurrency', f"{concurrency} is not in 1..64")
        self.drains = {} if self.drains is None else self.drains
        with self.lock:
            running = self.drains.get(host)
            if running is not None and not running.progress.done:
                return running.progress.to_dict()
            try:
                self.store.set_host_enabled(host, False, 'draining')
            except NotFound as exc:
                raise rpc.BusError(rpc.NOT_FOUND, str(exc))
            self.state.refresh_host(host)
            uuids = [r.uuid for r in self.store.list_instances(host=host)
                     if r.state not in (DELETED,)]
            drain = Drain(self.mover, host, uuids, live=live,
                          concurrency=concurrency or cfg.CONF.scheduler.drain_concurrency,
                          timeout=cfg.CONF.scheduler.migration_timeout, clock=self.clock,
                          spawn=self._background, request_id=context.current_request_id())
            self.drains[host] = drain
        self._notify_move('host.drain.start', {'host': host, 'instances': len(uuids)})
        self._background(drain.run)
        return drain.progress.to_dict()

    @rpc.endpoint
    def drain_status(self, ctxt, host):
        """The progress of the last drain of ``host`` (1.5)."""
        arguments.host_name(host, 'host')
        drain = (self.drains or {}).get(host)
        if drain is None:
            raise rpc.BusError(rpc.NOT_FOUND, f"no drain of host {host} since this "
                               'scheduler started')
        return drain.progress.to_dict()

    @rpc.endpoint
    def evacuate(self, ctxt, host):
        """Rebuild every instance of a host the store sees down elsewhere (1.5)."""
        arguments.host_name(host, 'host')
        if host not in self.state.generations:
            raise rpc.BusError(rpc.NOT_FOUND, f"host {host!r} is not known")
        if self.state.up.get(host, False):
            raise rpc.BusError(rpc.CONFLICT, f"host {host} is up: evacuate only a host that "
                               'is down (and fenced); migrate or drain a host that is up')
        return self._evacuate(host, lambda record: True)

    def _evacuate(self, host, chosen):
        done = []
        held = {h.assignment.instance for h in self.store.held_instances(host)}
        for record in self.store.list_instances(host=host):
            if record.uuid not in held or record.state in (DELETED, MIGRATING) or \
                    record.task or not chosen(record):
                continue     # holds nothing there, or something is under way
            with self.lock:
                try:
                    migration = self.mover.evacuate_one(self.store.get_instance(record.uuid),
                                                        context.current_request_id())
                except rpc.BusError as exc:
                    LOG.warning('Evacuation of %s failed: %s', record.uuid, exc.one_line())
                    continue
            done.append(migration.to_dict())
            if migration.status == models.DONE:
                self.agents.build_instance(migration.dest_host, record.uuid, record.name,
                                           migration.dest_assignment, record.spec,
                                           record.request)
        return {'host': host, 'migrations': done}

    def evacuate_down_hosts(self, down_time):
        """Auto-evacuation: opted-in instances of hosts down longer than ``down_time``."""
        now = self.clock()
        for name in sorted(self.state.generations):
            heartbeat = self.state.heartbeats.get(name)
            if self.state.up.get(name, False) or heartbeat is None or \
                    now - heartbeat < down_time:
                continue
            outcome = self._evacuate(name, lambda record: wants_ha(record.spec))
            if outcome['migrations']:
                LOG.warning('Host %s down for %.0fs: evacuated %d HA instance(s)', name,
                            now - heartbeat, len(outcome['migrations']))

    # -- from agents ------------------------------------------------------------
    @rpc.endpoint
    @trust.from_host(trust.updating_host)
    def migration_update(self, ctxt, migration, host, status, reason=None):
        """The source agent's result of ``migrate_instance``: migrated or failed (1.5)."""
        arguments.uuid(migration, 'migration')
        arguments.host_name(host, 'host')
        arguments.one_of(status, 'status', MOVE_RESULTS)
        arguments.text(reason, 'reason')
        self.mover.source_result(migration, host, status, reason)
        return None

    @rpc.endpoint
    @trust.from_host(trust.updating_host)
    def placed_elsewhere(self, ctxt, host, instances):
        """Which of ``instances`` (domains on ``host``) the store places on another host
        and which no move involves: stale copies the agent destroys at start (1.5)."""
        arguments.host_name(host, 'host')
        arguments.bounded_list(instances, 'instances')
        for index, uuid in enumerate(instances):
            arguments.uuid(uuid, f"instances[{index}]")
        moving = {m.instance_uuid for m in self.store.list_migrations(host=host, active=True)}
        stale = []
        for uuid in instances:
            try:
                record = self.store.get_instance(uuid)
            except NotFound:
                continue
            if record.host not in (None, host) and uuid not in moving:
                stale.append(uuid)
        return {'instances': stale}

    def _background(self, target, *args):
        if self.spawn is not None:
            self.spawn(target, *args)
            return
        threading.Thread(target=target, args=args, daemon=True).start()
