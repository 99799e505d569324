"""Server side of the agent's RPC API (topic ``kvmfleet-agent``, server = host name, 1.5).

The agent never re-decides: it verifies the scheduler's assignment against
its host and applies it (agent.driver), then tells the scheduler what
happened (``instance_update``).  ``report`` sends the host's topology and its
libvirt domains (the truth of what runs) to the scheduler: periodically, as a
heartbeat, and soon after a change.
"""

import collections
import dataclasses
import json
import logging
import os
import re
import threading
import time

import oslo_messaging as messaging
from oslo_config import cfg

from agent import trust
from agent.domain import MetadataError, domain_name, read_metadata
from agent.exceptions import AgentError
from agent.metrics import NO_METRICS
from agent.move_endpoints import MoveEndpoints
from wire import arguments, limits, names, notifications, ratelimit, rpc
from wire.assignment import Assignment
from wire.errors import FieldError, InvalidInput, shown
from wire.notifications import InstanceFacts, instance_action, instance_action_error
from wire.request_spec import RequestSpec

LOG = logging.getLogger(__name__)

agent_service_opts = [
    cfg.IntOpt('report_interval', default=10, min=1,
               help='Seconds between two host reports (the heartbeat). Keep it well below '
                    'the scheduler\'s service_down_time.'),
    cfg.BoolOpt('report_on_change', default=True,
                help='Also report soon after a build, delete or power change.'),
    cfg.FloatOpt('report_min_interval', default=1.0, min=0.0,
                 help='Seconds at least between two reports of one host.'),
    cfg.StrOpt('default_image',
               help='Image (a directory under images_path holding image.json) used when a '
                    'request names none.'),
]
cfg.CONF.register_opts(agent_service_opts, group='agent')

IMAGE_NAME = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._-]*$')
# Seconds before an unanswered first report is sent again; doubled at each further
# try, up to [agent] report_interval
FIRST_REPORT_RETRY_S = 1.0
ACTIVE, STOPPED, ERROR, DELETED = 'ACTIVE', 'STOPPED', 'ERROR', 'DELETED'
BUILDING = 'BUILDING'
# An operation's notification name and the state it starts from when the agent was
# not told one (the scheduler sends it only from that state).
STEPS = {'stop': ('power_off', ACTIVE), 'start': ('power_on', STOPPED),
         'reboot': ('reboot', ACTIVE), 'delete': ('delete', ACTIVE)}
RUNNING_STATES = ('running', 'blocked', 'paused')     # libvirt states the scheduler calls ACTIVE


def list_opts():
    return [('agent', agent_service_opts)]


class AgentManager(MoveEndpoints):
    """One host's endpoints.  ``topology`` is a callable returning its HostTopology.
    Moves: agent.move_endpoints."""

    target = messaging.Target(version='1.5')
    # Checks that orders are signed by a trusted scheduler for this host
    # (agent/trust.py); the service sets it, unit tests may leave it None.
    verifier = None
    # Build counters (agent/metrics.py); the service sets them.
    metrics = NO_METRICS

    def __init__(self, host_name, driver, topology, scheduler_api, images_path=None,
                 default_image=None, notifier=None):
        self.host_name = host_name
        # wire.notifications.Notifier (off by default), published as kvmfleet-agent:<host>
        self.notifier = (notifier or notifications.DISABLED).for_publisher(
            notifications.publisher_id(notifications.AGENT, host_name))
        self.driver = driver
        self.topology = topology
        self.scheduler = scheduler_api
        self.images_path = images_path or driver.config.images_path
        self.default_image = default_image
        self.dirty = threading.Event()
        self.last_report = 0.0
        # Set once a scheduler has answered one of this host's reports: until then each
        # report is a call, sent again with a growing delay (report_due)
        self.taken = threading.Event()
        self.unanswered = 0
        self._receiving = threading.Lock()
        self._building = set()       # instances whose build this manager runs now
        self._known = {}     # domain name -> (uuid, assignment dict) read from metadata
        # instance -> state the scheduler was last told (agent.lifecycle); kept until DELETED
        self.instance_states = {}
        self.domain_states = {}   # libvirt state -> domains, as last reported (metrics)

    # -- helpers -----------------------------------------------------------
    def _update(self, uuid, state, reason=None):
        self.scheduler.instance_update(uuid, self.host_name, state, reason)
        if state == DELETED:
            self.instance_states.pop(uuid, None)
        else:
            self.instance_states[uuid] = state
        self.dirty.set()

    def _notify(self, event, facts, state=None, fault=None):
        """Send instance ``event`` of ``facts`` (now in ``state``, if given); ``fault``
        (exception, reason) makes it an error payload.  None ``facts``: notifications off."""
        if facts is None:
            return
        if state is not None:
            facts = dataclasses.replace(facts, state=state)
        if fault is None:
            self.notifier.notify(event, instance_action, facts)
        else:
            self.notifier.notify(event, instance_action_error, facts, fault[1], fault[0])

    def _facts(self, uuid, state):
        """What notifications say of instance ``uuid`` here (its domain's metadata); read
        only when notifications are on."""
        if not self.notifier.enabled:
            return None
        known = self._known.get(domain_name(uuid))
        if known is None:
            try:
                known = _metadata_of(self.driver.conn.domain_xml(domain_name(uuid)), uuid)
            except AgentError:
                known = (uuid, None, None)
        return InstanceFacts.of_assignment(uuid, state, known[1], name=known[2])

    def instance_changed(self, uuid, state, reason=None):
        """A change seen on the host, not made by this agent (agent.lifecycle)."""
        self._update(uuid, state, reason)

    def instance_of(self, name):
        """The instance id of kvmfleet domain ``name``; None: not kvmfleet's, or gone."""
        known = self._known.get(name)
        if known is None:
            try:
                known = _metadata_of(self.driver.conn.domain_xml(name), None)
            except AgentError:
                return None
            self._known[name] = known
        return known[0] if known[1] is not None else None

    def _image(self, request):
        name = (request or {}).get('image') or self.default_image
        if not name:
            raise rpc.invalid('request.image', 'no image named and no [agent] default_image')
        if not isinstance(name, str) or not IMAGE_NAME.match(name):
            raise rpc.invalid('request.image', f"{name!r} is not an image name")
        path = os.path.join(self.images_path, name, 'image.json')
        try:
            with open(path, encoding='utf-8') as handle:
                return json.load(handle)
        except (OSError, ValueError) as exc:
            raise rpc.BusError(rpc.OPERATION_FAILED, f"image {name}: {path}: {exc}")

    # -- endpoints ---------------------------------------------------------
    @rpc.endpoint
    @trust.from_scheduler
    def build_instance(self, ctxt, instance, name=None, assignment=None, spec=None,
                       request=None, **unknown):
        """Verify and launch; the scheduler learns ACTIVE or ERROR (with the reason).

        Whatever is malformed (name, assignment, spec, request, image, unknown
        arguments), a readable ``instance`` uuid is answered ERROR with the reason
        and nothing is created.
        """
        return self._build(instance, name, assignment, spec, request, unknown)

    @rpc.endpoint
    @trust.from_scheduler
    def build_instances(self, ctxt, builds):
        """Several builds for this host in one message (1.5), each as build_instance.

        The message is signed as a whole; each item is untrusted input checked on its
        own: a malformed item is answered ERROR when its ``instance`` is readable (else
        logged) and never holds back the others.  A build sent again answers its state.
        The builds run side by side, as separate casts would; the message is done when
        the last has ended.
        """
        arguments.bounded_list(builds, 'builds')
        runners = [threading.Thread(target=self._batch_item, args=(index, item),
                                    name=f"build-{index}", daemon=True)
                   for index, item in enumerate(builds[1:], 1)]
        for runner in runners:
            runner.start()
        if builds:
            self._batch_item(0, builds[0])
        for runner in runners:
            runner.join()
        return None

    def _batch_item(self, index, item):
        """Build ``builds[index]``; its refusal is one rate-limited line, never raised."""
        try:
            if not isinstance(item, dict):
                raise rpc.invalid(f"builds[{index}]", f"expected an object, got "
                                  f"{type(item).__name__}")
            fields = dict(item)
            self._build(fields.pop('instance', None), fields.pop('name', None),
                        fields.pop('assignment', None), fields.pop('spec', None),
                        fields.pop('request', None), fields)
            return
        except (rpc.BusError, FieldError, InvalidInput) as exc:
            refused = exc
        except Exception:     # a bug: logged with its traceback, rate-limited (untrusted input)
            ratelimit.rejections().log(logging.ERROR, 'builds[%d] failed', index,
                                       exc_info=True)
            return
        ratelimit.rejections().warning('builds[%d] rejected: %s', index, refusal_line(refused))

    def _build(self, instance, name, assignment, spec, request, unknown):
        """build_instance's work (the message checked and verified already)."""
        arguments.uuid(instance, 'instance')
        try:
            parsed_spec, parsed, image = self._read_build(instance, name, assignment, spec,
                                                          request, unknown)
        except Exception as exc:
            self._build_failed(InstanceFacts(instance, ERROR, host=self.host_name),
                               _fault_kind(exc), refusal_line(exc))
            self.metrics.build_refused(exc)
            raise
        with self._receiving:        # two copies of one build: one builds, one answers
            if self._built_before(instance):
                return None
            self._building.add(instance)
        facts = InstanceFacts.of_assignment(instance, BUILDING, parsed, name=parsed_spec.name,
                                            flavor=request.get('flavor') if request else None)
        self._notify('instance.create.start', facts)
        try:
            result = self.driver.build_and_launch(parsed_spec, parsed, image)
        except Exception as exc:   # a bug below: the instance must not stay BUILDING
            self._build_failed(facts, rpc.INTERNAL_ERROR,
                               f"InternalError: {ratelimit.clip(str(exc))}")
            self.metrics.build_refused(exc)
            raise
        finally:
            with self._receiving:
                self._building.discard(instance)
        self.metrics.build_finished(result)
        if result.ok:
            LOG.info('Instance %s running on %s (%.3fs)', instance, self.host_name,
                     result.elapsed_s)
            self._update(instance, ACTIVE)
            self._notify('instance.create.end', facts, ACTIVE)
        else:
            # rate-limited: anyone on the bus can send builds that fail verification
            ratelimit.rejections().warning('Build of %s failed: %s: %s', instance,
                                           result.reason, result.detail)
            self._build_failed(facts, result.reason, f"{result.reason}: {result.detail}")
        return None

    def _build_failed(self, facts, kind, reason):
        self._update(facts.uuid, ERROR, reason)
        self._notify('instance.create.error', facts, ERROR, (kind, reason))

    def _built_before(self, instance):
        """Whether this is a build sent again (a scheduler that recovered it, a client's
        retry) of an instance this host has: answered with its state, no second domain."""
        if instance in self._building or self.driver.busy(instance):
            return True          # its first build is under way and will answer
        try:
            state = self.driver.state(instance)
        except AgentError:       # libvirt unreachable: the build says so with its reason
            return False
        if state is None:
            return False
        LOG.info('Build of %s sent again: the domain exists (%s)', instance, state)
        self._update(instance, ACTIVE if state in RUNNING_STATES else STOPPED)
        return True

    def _read_build(self, instance, name, assignment, spec, request, unknown):
        """(spec, assignment, image) of a build message, or the first broken rule."""
        if unknown:
            raise rpc.invalid(f"args.{sorted(unknown)[0]}", 'is not an argument of '
                              'build_instance')
        names.instance_name(rpc.require({'name': name}, 'name', str, 'args'), 'name')
        parsed_spec, parsed = _parse_build(assignment, spec, request)
        if parsed.instance != instance or parsed.host != self.host_name:
            raise rpc.invalid('assignment', f"is for {shown(parsed.instance)} on "
                              f"{shown(parsed.host)}, not {instance} on {self.host_name}")
        return parsed_spec, parsed, self._image(request)

    @rpc.endpoint
    @trust.from_scheduler
    def delete_instance(self, ctxt, instance):
        arguments.uuid(instance, 'instance')
        return self._operate(instance, 'delete', lambda: self.driver.delete(instance), DELETED,
                             failure='delete failed: ')

    @rpc.endpoint
    @trust.from_scheduler
    def stop(self, ctxt, instance, force=False):
        """Ask the guest to shut down, wait up to [agent] graceful_shutdown_timeout, then
        power off; ``force`` (1.1) powers off at once."""
        arguments.uuid(instance, 'instance')
        forced = rpc.check(force, bool, 'force')
        timeout = 0.0 if forced else self.driver.config.graceful_shutdown_timeout
        return self._operate(instance, 'stop', lambda: self.driver.stop(instance, timeout),
                             STOPPED)

    @rpc.endpoint
    @trust.from_scheduler
    def start(self, ctxt, instance):
        arguments.uuid(instance, 'instance')
        return self._operate(instance, 'start', lambda: _launched(self.driver.start(instance)),
                             ACTIVE)

    @rpc.endpoint
    @trust.from_scheduler
    def reboot(self, ctxt, instance, hard=False):
        """Ask the guest to reboot; ``hard`` (1.1) powers it off and on."""
        arguments.uuid(instance, 'instance')
        hard = rpc.check(hard, bool, 'hard')
        return self._operate(instance, 'reboot', lambda: self._reboot(instance, hard), ACTIVE)

    def _reboot(self, instance, hard):
        if hard:
            _launched(self.driver.reboot(instance, hard=True))
        else:
            self.driver.reboot(instance)

    def _operate(self, instance, operation, apply, new_state, failure=''):
        """Apply ``operation`` (a STEPS key), tell the scheduler and the listeners."""
        step, before = STEPS[operation]
        facts = self._facts(instance, self.instance_states.get(instance, before))
        self._notify(f"instance.{step}.start", facts)
        try:
            apply()
        except AgentError as exc:
            self._update(instance, ERROR, f"{failure}{exc}")
            self._notify(f"instance.{step}.error", facts, ERROR,
                         (type(exc).__name__, f"{failure}{exc}"))
            return None
        self._update(instance, new_state)
        self._notify(f"instance.{step}.end", facts, new_state)
        return None

    @rpc.endpoint
    @trust.from_scheduler
    def console_log(self, ctxt, instance):
        arguments.uuid(instance, 'instance')
        if self.driver.state(instance) is None:
            raise rpc.BusError(rpc.NOT_FOUND, f"no instance {instance} on {self.host_name}")
        return {'instance': instance, 'host': self.host_name,
                'log': self.driver.console_log(instance)}

    @rpc.endpoint
    @trust.to_every_host
    def report_now(self, ctxt):
        """A (starting) scheduler asks every agent to report (1.2, fanout): this host
        reports at the reporter's next tick."""
        self.report_soon()

    # -- reports -----------------------------------------------------------
    def report_soon(self):
        self.last_report = float('-inf')

    def domains(self):
        """Every libvirt domain as the scheduler wants it: uuid, name, state, assignment."""
        reported = []
        for name, libvirt_uuid, xml, state in self.driver.conn.list_domains():
            known = self._known.get(name)
            if known is None:
                known = _metadata_of(xml, libvirt_uuid)
                self._known[name] = known
            uuid, assignment, instance_name = known
            entry = {'uuid': uuid, 'name': instance_name or name, 'state': state}
            if assignment is not None:
                entry['assignment'] = assignment
            reported.append(entry)
        live = {entry['name'] for entry in reported}
        self.domain_states = collections.Counter(entry['state'] for entry in reported)
        self._known = {k: v for k, v in self._known.items() if k in live}
        return reported

    def images(self):
        """Names of the images under images_path (each a directory with image.json), for
        the scheduler to send no boot here for an image this host lacks; None when the
        directory cannot be read (then the scheduler assumes any image)."""
        try:
            entries = sorted(os.listdir(self.images_path))
        except OSError:
            return None
        found = [name for name in entries if IMAGE_NAME.match(name) and
                 os.path.isfile(os.path.join(self.images_path, name, 'image.json'))]
        return found[:limits.from_conf().max_traits]

    def report(self):
        """Send topology + domains (the heartbeat); never raises."""
        self.dirty.clear()
        self.last_report = time.monotonic()
        try:
            host = dict(self.topology().to_dict(), images=self.images())
            listed = time.monotonic()     # before the listing: builds are judged by it
            domains = self.domains()
            if self.taken.is_set():
                self.scheduler.report_host(host, domains, listed=listed)
            else:       # no scheduler has taken a report yet: a call, retried
                self.unanswered += 1
                self.scheduler.report_host(host, domains, taken=self.taken, listed=listed)
        except AgentError as exc:   # libvirt unreachable: no report beats an empty one
            LOG.warning('Report of host %s skipped: %s', self.host_name, exc)
        except Exception:
            LOG.exception('Report of host %s failed', self.host_name)
            self.dirty.set()

    def report_due(self, now, interval, min_interval, on_change):
        """Whether this host should report at monotonic time ``now``."""
        since = now - self.last_report
        if since >= interval:
            return True
        if not self.taken.is_set() and since >= min(
                FIRST_REPORT_RETRY_S * 2 ** max(0, self.unanswered - 1), interval):
            return True
        return on_change and self.dirty.is_set() and since >= min_interval

    def startup(self, ask_timeout=10.0):
        """Reconcile libvirt with the instance directories, destroy the stale copies of
        instances evacuated while this host was away, then report at once."""
        result = self.driver.reconcile()
        LOG.info('Host %s: %d domains adopted, %d interrupted builds cleaned, %d unreadable',
                 self.host_name, len(result.adopted), len(result.cleaned),
                 len(result.unreadable))
        self.remove_stale_copies(timeout=ask_timeout)
        self.report()
        return result


def _parse_build(assignment, spec, request):
    rpc.require({'assignment': assignment}, 'assignment', dict, 'args')
    rpc.require({'spec': spec}, 'spec', dict, 'args')
    if request is not None:
        rpc.check(request, dict, 'request')
    parsed = _readable('assignment', _assignment_from_dict, assignment)
    return _readable('spec', _spec_from_dict, spec), parsed


def _assignment_from_dict(assignment):
    return Assignment.from_dict(assignment, limits=limits.from_conf())


def _spec_from_dict(spec):
    """A RequestSpec that also writes itself back (the domain metadata needs that), its
    name checked by the instance name rule (it becomes the domain's title)."""
    parsed = RequestSpec.from_dict(spec)
    names.instance_name(parsed.name, 'spec.name')
    for key in ('extra_specs', 'image_properties', 'aggregate_specs'):   # the builder reads
        rpc.check(getattr(parsed, key), dict, f"spec.{key}")
    parsed.to_dict()
    return parsed


def _readable(field, parse, value):
    """``parse(value)``; an error that names no field is turned into one naming ``field``."""
    try:
        return parse(value)
    except (rpc.BusError, FieldError, InvalidInput):
        raise
    except Exception as exc:   # the parsers' own slips must not leave a build BUILDING
        raise rpc.invalid(field, ratelimit.clip(f"unreadable ({type(exc).__name__}: {exc})"))


def refusal_line(exc):
    """The one-line reason an agent gives for a build it cannot read."""
    if isinstance(exc, rpc.BusError):
        return exc.one_line()
    if isinstance(exc, (FieldError, InvalidInput)):
        return f"{rpc.INVALID_INPUT}: {exc}"
    return f"{rpc.INTERNAL_ERROR}: {ratelimit.clip(str(exc))}"


def _fault_kind(exc):
    """The ``exception`` of a refused build's fault: the bus error code or the class."""
    return exc.code if isinstance(exc, rpc.BusError) else type(exc).__name__


def _launched(result):
    if not result.ok:
        raise AgentError(f"{result.reason}: {result.detail}")
    return result


def _metadata_of(xml, libvirt_uuid):
    """(instance uuid, assignment dict or None, instance name or None) of a domain's XML."""
    try:
        parsed = read_metadata(xml)
    except ValueError as exc:
        parsed = MetadataError(str(exc))
    if isinstance(parsed, MetadataError):
        LOG.warning('Domain %s: unreadable kvmfleet metadata: %s', libvirt_uuid, parsed)
    elif parsed is not None:
        uuid, spec, assignment = parsed
        return uuid, assignment.to_dict(), spec.name
    return libvirt_uuid, None, None


class Reporter(threading.Thread):
    """Sends each manager's report when due: periodically and soon after changes."""

    def __init__(self, managers, conf=cfg.CONF, tick=0.2):
        super().__init__(name='kvmfleet-reporter', daemon=True)
        self.managers = list(managers)
        self.conf = conf
        self.tick = tick
        self.stopping = threading.Event()

    def run(self):
        agent = self.conf.agent
        while not self.stopping.wait(self.tick):
            now = time.monotonic()
            for manager in self.managers:
                if self.stopping.is_set():
                    return
                if manager.report_due(now, agent.report_interval, agent.report_min_interval,
                                      agent.report_on_change):
                    manager.report()

    def stop(self):
        self.stopping.set()
