"""Server side of the scheduler's RPC API (topic ``kvmfleet-scheduler``, 1.8).

One lock guards the warm view and every decision that changes it (place +
claim, release, host reports that change something), so the view and the
store move together.  Host reports are coalesced per host and worked by a
bounded number of threads, mostly without the lock (scheduler/reports.py).
Agent casts and notifications happen outside the lock.  Every endpoint
validates its payload (wire.rpc.endpoint turns errors into BusError).
"""

import logging
import threading
import time
import uuid as uuidlib

import oslo_messaging as messaging
from oslo_config import cfg

from scheduler import (
    builds,
    claims,
    host_views,
    payloads,
    reconcile,
    reports,
    server_groups,
    trust,
)
from scheduler.build_casts import BuildCasts
from scheduler.engine.capacity import shape_capacity
from scheduler.metrics import NO_METRICS
from scheduler.move_endpoints import MoveEndpoints
from scheduler.mover import Mover, MoveSettings
from scheduler.room_endpoints import RoomEndpoints
from scheduler.server_groups import GroupEndpoints
from scheduler.specs import parse_request
from scheduler.store import (
    ACTIVE,
    BUILDING,
    DELETED,
    DELETING,
    ERROR,
    MIGRATING,
    RESIZED,
    STATES,
    STOPPED,
    NotFound,
)
from scheduler.warm_state import WarmState
from wire import arguments, notifications, ratelimit, rpc
from wire.errors import FieldError
from wire.limits import DEFAULT as DEFAULT_LIMITS
from wire.notifications import (
    host_status,
    instance_action,
    instance_action_error,
)
from wire.request_spec import RequestSpec
from wire.topology import HostTopology

LOG = logging.getLogger(__name__)

manager_opts = [
    cfg.IntOpt('max_attempts', default=3, min=1,
               help='Hosts a build is tried on (the first choice and its alternates) '
                    'before the instance goes to ERROR with every attempt\'s reason.'),
]
cfg.CONF.register_opts(manager_opts, group='scheduler')

# Faults (``exception``) of instance.create.error besides NoValidHost and the agent's codes
BUILD_FAILED = 'BuildFailed'    # given up after its attempts
BUILD_LOST = 'BuildLost'        # the host's reports show the build will not finish

# What an operation needs and what it sets while the agent works.
OPERATIONS = {'stop': ((ACTIVE,), 'stopping'), 'start': ((STOPPED,), 'starting'),
              'reboot': ((ACTIVE,), 'rebooting')}


def list_opts():
    return [('scheduler', manager_opts)]


class SchedulerManager(MoveEndpoints, RoomEndpoints, GroupEndpoints):
    """The scheduler's endpoints (moves: scheduler.move_endpoints; make room:
    scheduler.room_endpoints)."""

    target = messaging.Target(version='1.8')
    # Checks that host messages are signed by their host (scheduler/trust.py); the
    # service sets it, library use and unit tests may leave it None (no check).
    verifier = None
    # Decision and reschedule counters (scheduler/metrics.py); the service sets them.
    metrics = NO_METRICS
    # [scheduler] test_crash_after_claim (scheduler/builds.py): tests only
    crash_after_claim = False

    def __init__(self, store, engine, agent_api, notifier=None, flavors=None, aliases=None,
                 clock=time.time, limits=DEFAULT_LIMITS):
        self.store = store
        self.engine = engine
        self.agents = agent_api
        self.notifier = notifier or notifications.DISABLED   # wire.notifications.Notifier
        self.flavors = flavors or {}
        self.aliases = aliases or {}
        self.clock = clock
        self.limits = limits       # wire.limits.Limits: bounds of every request and report
        self.lock = threading.RLock()
        self.state = WarmState(store, clock=clock).load()
        self.flags = {}            # host -> unknown domains flagged by reconciliation
        self.cast_marks = builds.CastMarks(store)   # cleared by the service, in batches
        self.reports = reports.ReportQueue(self._apply_report)   # coalesced, bounded
        self.build_casts = BuildCasts(self.cast_marks)
        self.mover = Mover(store, self.state, engine, agent_api, self.lock, self._notify_move,
                           MoveSettings(cfg.CONF.scheduler.migration_prepare_timeout,
                                        cfg.CONF.scheduler.migration_timeout))

    # -- helpers -----------------------------------------------------------
    def _notify_host(self, event, name, disabled_reason=None):
        self.notifier.notify(event, host_status, name, self.state.up.get(name, False),
                             self.state.enabled.get(name, False), disabled_reason)

    def _lost_build(self, uuid, reason):
        return instance_action_error(payloads.record_facts(self.store.get_instance(uuid)),
                                     reason, BUILD_LOST)

    def _parse(self, request):
        return parse_request(request, aliases=self.aliases, flavors=self.flavors,
                             limits=self.limits)

    def _find(self, instance):
        arguments.instance_ref(instance, 'instance')
        try:
            return self.store.get_instance(instance)
        except NotFound:
            live = [r for r in self.store.find_instances(instance) if r.state != DELETED]
            if len(live) == 1:
                return self.store.get_instance(live[0].uuid)
            if len(live) > 1:
                raise rpc.BusError(rpc.CONFLICT, f"name {instance!r} matches {len(live)} "
                                   'instances: use the uuid')
            raise rpc.BusError(rpc.NOT_FOUND, f"instance {instance!r} not found")

    def _dispatch(self, assignment, record_name, spec, request):
        self.agents.build_instance(assignment.host, assignment.instance, record_name,
                                   assignment.to_dict(), spec.to_dict(), request)
        self.cast_marks.cast([assignment.instance])

    # -- boot --------------------------------------------------------------
    @rpc.endpoint
    def boot(self, ctxt, request, instance_uuids=None, make_room=False):
        """Place, claim and dispatch; answer at once with the instances in BUILDING.

        ``make_room`` (1.7): when the request fits nowhere, first run the live
        migrations that make room for it (scheduler.room_endpoints), each to its end.
        """
        rpc.check(request, dict, 'request')
        make_room = rpc.check(make_room, bool, 'make_room')
        uuids = payloads.boot_uuids(request, instance_uuids, self.limits)
        if instance_uuids is not None and 'count' not in request:
            request = dict(request, count=len(uuids))
        request = server_groups.resolved(self.store, request)
        spec = self._parse(request)
        host_views.check_image(self.state, request.get('image'))
        server_groups.ensure(self.store, spec.server_group)
        if instance_uuids is None:
            uuids = [str(uuidlib.uuid4()) for _ in range(spec.count)]
        elif len(uuids) != spec.count:
            raise rpc.invalid('instance_uuids', f"{len(uuids)} uuids for count {spec.count}")
        if make_room and not self._known(uuids):    # a retried boot made its room before
            self._make_room(spec, uuids)
        spec_dict = spec.to_dict()
        started = notifications.now()
        with self.lock:
            known = self._known(uuids) if instance_uuids is not None else {}
            self._check_retry(known, request)
            if len(known) == len(uuids):   # a retried boot: answer what exists
                return {'instances': [known[u].to_dict() for u in uuids]}
            fresh = [u for u in uuids if u not in known]
            names = payloads.names(spec, uuids)
            now = self.clock()
            rows = {u: payloads.new_row(u, names[u], request, spec_dict) for u in fresh}
            deciding = time.perf_counter()
            claimed = claims.place_and_claim(self.engine, self.state, payloads.count(spec, fresh),
                                             fresh, rows)
            self.metrics.decided(claimed, min(spec.min_count, len(fresh)),
                                 time.perf_counter() - deciding)
            if len(claimed.assignments) < min(spec.min_count, len(fresh)):
                return self._no_valid_host(spec, fresh, rows, claimed, started)
            for uuid, reason in claimed.failed.items():
                known[uuid], _ = self.store.create_instance(
                    uuid, names[uuid], request, spec_dict, ERROR,
                    reason=f"NoValidHost: {reason}")
        builds.crash_point(self.crash_after_claim)
        for uuid in claimed.failed:
            self._schedule_failed(rows[uuid], known[uuid].reason, started)
        for assignment in claimed.assignments:
            LOG.info('Build on %s', assignment.host, extra={'instance_uuid': assignment.instance})
            row = rows[assignment.instance]
            self.notifier.notify('instance.schedule.start', instance_action,
                                 payloads.row_facts(row, BUILDING), occurred_at=started)
            self.notifier.notify('instance.schedule.end', instance_action,
                                 payloads.row_facts(row, BUILDING, assignment))
        # those of a host whose previous cast is leaving go with the next, in one
        self.build_casts.send(self.agents, [
            (a.host, {'instance': a.instance, 'name': names[a.instance],
                      'assignment': a.to_dict(), 'spec': spec_dict, 'request': request})
            for a in claimed.assignments])
        answers = {a.instance: payloads.building(rows[a.instance], a, claimed.alternates, now)
                   for a in claimed.assignments}
        return {'instances': [answers[u] if u in answers else known[u].to_dict()
                              for u in uuids]}

    def _check_retry(self, known, request):
        """A boot sent again names its instances with the request that made them (a
        Conflict otherwise); the build of each still BUILDING is sent again, as the
        first may never have left (the agent answers a build it has already)."""
        for uuid, record in known.items():
            if record.request != request:
                raise rpc.BusError(rpc.CONFLICT, f"instance {uuid} exists, made by another "
                                   'request: a retried boot must send the same request')
        for record in known.values():
            if record.state == BUILDING and record.assignment and not record.task:
                self.agents.build_instance(record.host, record.uuid, record.name,
                                           record.assignment, record.spec, record.request)

    def recast_pending(self, min_age_s=0.0):
        """Cast the builds claimed and never cast (scheduler/builds.py)."""
        self.cast_marks.flush()       # those this process cast are not pending
        return builds.recast_pending(self.store, self.agents, self.clock(), min_age_s)

    def _known(self, uuids):
        known = {}
        for uuid in uuids:
            try:
                known[uuid] = self.store.get_instance(uuid)
            except NotFound:
                pass
        return known

    def _schedule_failed(self, row, reason, started):
        """instance.schedule.start, then instance.create.error: no host for ``row``."""
        self.notifier.notify('instance.schedule.start', instance_action,
                             payloads.row_facts(row, BUILDING), occurred_at=started)
        self.notifier.notify('instance.create.error', instance_action_error,
                             payloads.row_facts(row, ERROR), reason, rpc.NO_VALID_HOST)

    def _no_valid_host(self, spec, fresh, rows, claimed, started):
        for assignment in claimed.assignments:    # below min_count: give all back
            claims.release_claim(self.state, assignment)
        explanation = claims.explanation_text(claimed.explanation)
        summary = payloads.summary(explanation) or 'no host can hold the request'
        for uuid in fresh:
            reason = f"NoValidHost: {summary}"
            record, created = self.store.create_instance(
                uuid, rows[uuid]['name'], rows[uuid]['request'], rows[uuid]['spec'], ERROR,
                reason=reason)
            if not created:
                self.store.update_instance(uuid, state=ERROR, host=None, reason=reason)
            self._schedule_failed(rows[uuid], reason, started)
        raise rpc.BusError(rpc.NO_VALID_HOST, f"{spec.name}: {summary}",
                           {'explanation': explanation, 'instances': fresh})

    # -- lifecycle ---------------------------------------------------------
    @rpc.endpoint
    def delete(self, ctxt, instance):
        """Delete on the host (cast); a host that is down or absent: delete locally."""
        record = self._find(instance)
        with self.lock:
            if record.state == DELETED:
                return record.to_dict()
            if record.state == MIGRATING:
                raise rpc.BusError(rpc.CONFLICT, f"instance {record.uuid} is moving: delete it "
                                   'when the move has ended')
            if record.state == RESIZED:
                raise rpc.BusError(rpc.CONFLICT, f"instance {record.uuid} is RESIZED: confirm "
                                   'or revert its resize first')
            if record.assignment is None or not self.state.up.get(record.host, False):
                # no agent will delete it: the scheduler tells the steps itself
                self.notifier.notify('instance.delete.start', instance_action,
                                     payloads.record_facts(record))
                claims.release_claim(self.state, record.uuid)
                deleted = self.store.update_instance(record.uuid, state=DELETED, task=None)
                self.notifier.notify('instance.delete.end', instance_action,
                                     payloads.record_facts(record, DELETED))
                return deleted.to_dict()
            # not over a delete another scheduler ended meanwhile (a client's retry)
            record = self.store.update_live_instance(record.uuid, task=DELETING)
            if record.state == DELETED:
                return record.to_dict()
        self.agents.delete_instance(record.host, record.uuid)
        return record.to_dict()

    def _operation(self, instance, name, **options):
        """Set the operation's task and cast it to the agent (``options``: force, hard)."""
        record = self._find(instance)
        allowed, task = OPERATIONS[name]
        if record.state not in allowed or record.task:
            raise rpc.BusError(rpc.CONFLICT, f"cannot {name} instance {record.uuid} in state "
                               f"{record.state}" + (f" ({record.task})" if record.task else ''))
        if not self.state.up.get(record.host, False):
            raise rpc.BusError(rpc.OPERATION_FAILED, f"host {record.host} is down")
        record = self.store.update_instance(record.uuid, task=task)
        try:
            getattr(self.agents, name)(record.host, record.uuid, **options)
        except rpc.BusError:      # not sent (an [upgrade_levels] cap): nothing in flight
            self.store.update_instance(record.uuid, task=None)
            raise
        return record.to_dict()

    @rpc.endpoint
    def stop(self, ctxt, instance, force=False):
        """Power off: the agent asks the guest to shut down first unless ``force`` (1.2)."""
        return self._operation(instance, 'stop', **_flag(force, 'force'))

    @rpc.endpoint
    def start(self, ctxt, instance):
        return self._operation(instance, 'start')

    @rpc.endpoint
    def reboot(self, ctxt, instance, hard=False):
        """Ask the guest to reboot, or power cycle it (``hard``, 1.2)."""
        return self._operation(instance, 'reboot', **_flag(hard, 'hard'))

    @rpc.endpoint
    def console_log(self, ctxt, instance):
        record = self._find(instance)
        if not record.host or record.state in (DELETED,):
            raise rpc.BusError(rpc.CONFLICT, f"instance {record.uuid} runs on no host")
        return self.agents.console_log(record.host, record.uuid)

    @rpc.endpoint
    def show(self, ctxt, instance):
        """One instance, with its migration records (1.3)."""
        record = self._find(instance)
        return dict(record.to_dict(), migrations=[
            m.to_dict() for m in self.store.list_migrations(instance=record.uuid)])

    @rpc.endpoint
    def list(self, ctxt, state=None, host=None):
        if state is not None:
            arguments.one_of(state, 'state', STATES)
        if host is not None:
            arguments.host_name(host, 'host')
        records = self.store.list_instances(state=state, host=host)
        return {'instances': [r.to_dict() for r in records]}

    # -- hosts -------------------------------------------------------------
    @rpc.endpoint
    def hosts(self, ctxt):
        """Every host as the store has it now (whichever scheduler answers): the view
        follows the store's heartbeats, claims and releases first."""
        self._follow_store()
        with self.lock:
            names = sorted(self.state.generations)
            return {'hosts': [host_views.host_view(self.state, n, self.flags.get(n, ()))
                              for n in names if n in self.state.fleet]}

    @rpc.endpoint
    def host_detail(self, ctxt, host):
        """One host as ``hosts`` answers it, with its topology and held instances (1.4)."""
        arguments.host_name(host, 'host')
        with self.lock:
            self.state.catch_up()
            if host not in self.state.fleet:
                raise rpc.BusError(rpc.NOT_FOUND, f"host {host} is not known")
            held = self.store.held_instances(host)
            return host_views.host_detail(self.state, host, held, self.flags.get(host, ()))

    @rpc.endpoint
    def host_set_enabled(self, ctxt, host, enabled, reason=None):
        arguments.host_name(host, 'host')
        rpc.check(enabled, bool, 'enabled')
        arguments.text(reason, 'reason')
        with self.lock:
            try:
                self.store.set_host_enabled(host, enabled, reason)
            except NotFound as exc:
                raise rpc.BusError(rpc.NOT_FOUND, str(exc))
            self.state.refresh_host(host)
            view = host_views.host_view(self.state, host, self.flags.get(host, ()))
        self._notify_host('host.enabled' if enabled else 'host.disabled', host,
                          None if enabled else reason)
        return view

    @rpc.endpoint
    def explain(self, ctxt, request, make_room=False):
        """Dry run: the assignments it would get, and every host's verdict; with
        ``make_room`` (1.7) also the live migrations that would make room for it."""
        rpc.check(request, dict, 'request')
        make_room = rpc.check(make_room, bool, 'make_room')
        spec = self._parse(server_groups.resolved(self.store, request))
        uuids = [f"dry-run-{i}" for i in range(spec.count)]
        with self.lock:
            self.state.catch_up()
            placement = self.engine.place(spec, self.state.fleet, uuids)
            explanation = placement.explanation or self.engine.explain(spec, self.state.fleet)
            room = self._room_plan(spec, uuids, placement) if make_room else None
        answer = {'assignments': [a.to_dict() for a in placement.assignments],
                  'alternates': dict(placement.alternates or {}),
                  'explanation': claims.explanation_text(explanation)}
        if room is not None:
            answer['make_room'] = room.to_dict()
        return answer

    @rpc.endpoint
    def capacity(self, ctxt, request):
        """How many more instances of ``request`` fit now, and what runs out first."""
        rpc.check(request, dict, 'request')
        request = server_groups.resolved(self.store, request)
        spec = claims.single(self._parse(dict(request, count=1, min_count=1)))
        with self.lock:
            self.state.catch_up()
            return shape_capacity(spec, self.state.fleet, self.engine).to_dict()

    # -- from agents -------------------------------------------------------
    @rpc.endpoint
    @trust.from_host(trust.reporting_host)
    def report_host(self, ctxt, host, instances, listing_age=None):
        """Agent heartbeat + topology + domains; reconciled with the store.

        ``listing_age`` (1.8): seconds between the agent's listing of its domains
        and its sending of the report.  Queued under its host's name (checked), a
        newer report superseding it; checked in full when worked, in this thread
        (the answer) or by a report worker (None: scheduler/reports.py).
        """
        report = reports.Report(host, instances, listing_age, self.clock())
        return self.reports.submit(reports.host_of(host), report)

    def _apply_report(self, report):
        """One report: checked, heartbeat and a dry run without the lock; the lock only
        when the report changes the warm view (scheduler/reports.py)."""
        topology = HostTopology.from_dict(report.host, 'host', self.limits)
        domains = payloads.domains(report.instances, self.limits)
        now, name = report.received, topology.name
        listed = reports.listed_at(now, report.listing_age)
        stored = dict(topology.to_dict(), instances=[], enabled=True, up=True)
        record, created, changed = self.store.upsert_host(stored, now=now)
        outcome = reconcile.reconcile(self.state, name, domains, now, self.engine.policy,
                                      topology, listed, dry_run=True)
        came_up = False
        if created or changed or outcome.pending or not self.state.beat(name, now):
            with self.lock:
                came_up = self.state.heartbeat(name, now)
                outcome = reconcile.reconcile(self.state, name, domains, now,
                                              self.engine.policy, topology, listed)
                if created or changed or came_up or outcome.changed or \
                        name not in self.state.fleet:
                    self.state.refresh_host(name)
        self.flags[name] = outcome.flagged
        self._after_report(name, came_up, outcome)
        return {'generation': record.generation, 'adopted': outcome.adopted,
                'flagged': outcome.flagged}

    def _after_report(self, name, came_up, outcome):
        """What a worked report tells: host.up, deletes sent again, lost builds."""
        if came_up:
            self._notify_host('host.up', name)
        for uuid in outcome.redelete:
            self.agents.delete_instance(name, uuid)
        for uuid, old, new, reason in outcome.transitions:
            if old == BUILDING and new == ERROR:    # the build never finished on the host
                self.notifier.notify('instance.create.error', self._lost_build, uuid, reason)

    @rpc.endpoint
    @trust.from_host(trust.updating_host)
    def instance_update(self, ctxt, instance, host, state, reason=None):
        """An agent's result: ACTIVE / STOPPED / DELETED / ERROR (+ reason)."""
        return self._instance_update(instance, host, state, reason)

    @rpc.endpoint
    @trust.from_host(trust.batch_host)
    def instance_updates(self, ctxt, updates):
        """Several agent results in one message (1.1), applied in order.

        Each item is checked and applied on its own: a bad item is logged and
        skipped, it never holds back the others.  Consecutive finished builds
        (ACTIVE) are committed together.
        """
        arguments.bounded_list(updates, 'updates')
        finished = []
        for index, item in enumerate(updates):
            checked = payloads.checked_item(index, item)
            if checked is None:
                continue
            if checked[2] == ACTIVE:
                finished.append(checked)
                continue
            self._finish_builds(finished)
            finished = []
            self._apply_item(index, checked)
        self._finish_builds(finished)
        return None

    def _finish_builds(self, finished):
        """ACTIVE results: the BUILDING ones in one commit (no lock), others as usual."""
        try:
            done = self.store.finish_builds([(uuid, host) for uuid, host, _, _ in finished])
        except Exception:   # one by one then, each on the general path
            LOG.exception('Committing %d finished builds together failed', len(finished))
            done = [False] * len(finished)
        for (uuid, host, state, reason), ok in zip(finished, done):
            if not ok:    # a finished build changes no claim (the agent notified it)
                self._apply_item(uuid, (uuid, host, state, reason))

    def _apply_item(self, which, checked):
        try:
            self._locked_update(*checked)
            return
        except (rpc.BusError, FieldError) as exc:
            refused = exc
        except Exception:
            LOG.exception('instance_updates[%s] failed', which)
            return
        payloads.log_refused_item(which, refused)

    def _instance_update(self, instance, host, state, reason):
        payloads.check_update(instance, host, state, reason)
        if state == ACTIVE and self.store.finish_builds([(instance, host)]) == [True]:
            return None
        return self._locked_update(instance, host, state, reason)

    def _locked_update(self, instance, host, state, reason):
        with self.lock:
            record = self._find(instance)
            if record.host != host:
                ratelimit.rejections().log(logging.INFO, 'Ignoring %s from %s for %s: it is on '
                                           '%s now', state, host, record.uuid, record.host)
                return None
            if record.state == DELETED:
                # final: a late result (batches reach two schedulers out of order, a build
                # outran its delete) revives nothing; a domain left is deleted on report
                LOG.info('Ignoring %s from %s for %s: it is DELETED', state, host, record.uuid)
                return None
            if self.resize_update(record, host, state, reason):
                return None
            if record.state == MIGRATING:
                # e.g. a cold move powering the guest off: the move's own messages decide
                LOG.info('Ignoring %s from %s for %s: it is moving', state, host, record.uuid)
                return None
            if record.state == BUILDING and state == ERROR:
                return self._build_failed(record, host, reason or 'build failed')
            return self._apply_update(record, state, reason)

    def _apply_update(self, record, state, reason):
        if state == DELETED:
            claims.release_claim(self.state, record.uuid)
            self.store.update_instance(record.uuid, state=DELETED, task=None)
            return None
        # a delete in flight ends only with DELETED (or its failure, ERROR)
        task = record.task if record.task == DELETING and state != ERROR else None
        self.store.update_live_instance(record.uuid, state=state, task=task, reason=reason)
        return None

    def _build_failed(self, record, host, reason):
        attempts = record.attempts + [{'host': host, 'reason': reason}]
        claims.release_claim(self.state, record.uuid)
        if record.task == DELETING:     # deleted while it was building: nothing to retry
            self.store.update_instance(record.uuid, state=DELETED, task=None)
            return None
        spec = RequestSpec.from_dict(record.spec)
        tried = {a['host'] for a in attempts}
        assignment = None
        if len(attempts) < cfg.CONF.scheduler.max_attempts:
            assignment = claims.replace_on_alternate(self.engine, self.state, spec, record.uuid,
                                                     record.alternates, tried)
        self.metrics.rescheduled(assignment is not None)
        if assignment is None:
            why = '; '.join(f"{a['host']}: {a['reason']}" for a in attempts)
            failed = self.store.update_instance(
                record.uuid, state=ERROR, attempts=attempts,
                reason=f"build failed on {len(attempts)} host(s): {why}")
            self.notifier.notify('instance.create.error', instance_action_error,
                                 payloads.record_facts(failed), failed.reason, BUILD_FAILED)
            return None
        moved = self.store.update_instance(record.uuid, host=assignment.host, attempts=attempts)
        self.notifier.notify('instance.reschedule', notifications.instance_reschedule,
                             payloads.record_facts(moved, assignment=assignment),
                             host, reason, len(attempts))
        self._dispatch(assignment, record.name, spec, record.request)
        return None

    # -- periodic ----------------------------------------------------------
    def check_hosts(self):
        """Follow the store's heartbeats: hosts that missed theirs go down (nothing new
        goes there), hosts another scheduler heard from come up; returns those down."""
        went_down = self._follow_store()
        if cfg.CONF.scheduler.evacuate_on_host_down:
            self.evacuate_down_hosts(cfg.CONF.scheduler.evacuate_down_time)
        if cfg.CONF.scheduler.resize_confirm_window:
            self.confirm_resizes(cfg.CONF.scheduler.resize_confirm_window)
        return went_down

    def _follow_store(self):
        """WarmState.follow_store under the lock, each host that went down or came up
        told (host.down, host.up); returns those down."""
        with self.lock:
            went_down, came_up = self.state.follow_store()
        for name in went_down:
            LOG.warning('Host %s missed heartbeats for %ss: down', name, self.state.down_time)
            self._notify_host('host.down', name)
        for name in came_up:
            LOG.info('Host %s reports again: up', name)
            self._notify_host('host.up', name)
        return went_down


def _flag(value, name):
    """``{name: True}`` for a set boolean option, ``{}`` for an unset one."""
    return {name: True} if rpc.check(value, bool, name) else {}
