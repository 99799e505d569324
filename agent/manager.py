"""Server side of the agent's RPC API (topic ``kvmfleet-agent``, server = host name, 1.0).

The agent never re-decides: it verifies the scheduler's assignment against
its host and applies it (agent.driver), then tells the scheduler what
happened (``instance_update``).  ``report`` sends the host's topology and its
libvirt domains (the truth of what runs) to the scheduler: periodically, as a
heartbeat, and soon after a change.
"""

import json
import logging
import os
import re
import threading
import time

import oslo_messaging as messaging
from oslo_config import cfg

from agent.domain import MetadataError, read_metadata
from agent.exceptions import AgentError
from wire import limits, rpc
from wire.assignment import Assignment
from wire.errors import FieldError, InvalidInput
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
ACTIVE, STOPPED, ERROR, DELETED = 'ACTIVE', 'STOPPED', 'ERROR', 'DELETED'


def list_opts():
    return [('agent', agent_service_opts)]


class AgentManager:
    """One host's endpoints.  ``topology`` is a callable returning its HostTopology."""

    target = messaging.Target(version='1.0')

    def __init__(self, host_name, driver, topology, scheduler_api, images_path=None,
                 default_image=None):
        self.host_name = host_name
        self.driver = driver
        self.topology = topology
        self.scheduler = scheduler_api
        self.images_path = images_path or driver.config.images_path
        self.default_image = default_image
        self.dirty = threading.Event()
        self.last_report = 0.0
        self._known = {}     # domain name -> (uuid, assignment dict) read from metadata
        # instance -> state the scheduler was last told (agent.lifecycle); kept until DELETED
        self.instance_states = {}

    # -- helpers -----------------------------------------------------------
    def _update(self, uuid, state, reason=None):
        self.scheduler.instance_update(uuid, self.host_name, state, reason)
        if state == DELETED:
            self.instance_states.pop(uuid, None)
        else:
            self.instance_states[uuid] = state
        self.dirty.set()

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
    def build_instance(self, ctxt, instance, name, assignment, spec, request=None):
        """Verify and launch; the scheduler learns ACTIVE or ERROR (with the reason)."""
        rpc.check(instance, str, 'instance')
        try:
            parsed_spec, parsed = _parse_build(assignment, spec, request)
            if parsed.instance != instance or parsed.host != self.host_name:
                raise rpc.invalid('assignment', f"is for {parsed.instance} on {parsed.host}, "
                                  f"not {instance} on {self.host_name}")
            image = self._image(request)
        except (rpc.BusError, FieldError, InvalidInput) as exc:
            line = exc.one_line() if isinstance(exc, rpc.BusError) else f"InvalidInput: {exc}"
            self._update(instance, ERROR, line)
            raise
        result = self.driver.build_and_launch(parsed_spec, parsed, image)
        if result.ok:
            LOG.info('Instance %s running on %s (%.3fs)', instance, self.host_name,
                     result.elapsed_s)
            self._update(instance, ACTIVE)
        else:
            LOG.warning('Build of %s failed: %s: %s', instance, result.reason, result.detail)
            self._update(instance, ERROR, f"{result.reason}: {result.detail}")
        return None

    @rpc.endpoint
    def delete_instance(self, ctxt, instance):
        rpc.check(instance, str, 'instance')
        try:
            self.driver.delete(instance)
        except AgentError as exc:
            self._update(instance, ERROR, f"delete failed: {exc}")
            return None
        self._update(instance, DELETED)
        return None

    @rpc.endpoint
    def stop(self, ctxt, instance):
        rpc.check(instance, str, 'instance')
        return self._power(instance, lambda: self.driver.stop(instance), STOPPED)

    @rpc.endpoint
    def start(self, ctxt, instance):
        rpc.check(instance, str, 'instance')
        return self._power(instance, lambda: _launched(self.driver.start(instance)), ACTIVE)

    @rpc.endpoint
    def reboot(self, ctxt, instance):
        rpc.check(instance, str, 'instance')
        return self._power(instance, lambda: self.driver.reboot(instance), ACTIVE)

    def _power(self, instance, operation, new_state):
        try:
            operation()
        except AgentError as exc:
            self._update(instance, ERROR, str(exc))
            return None
        self._update(instance, new_state)
        return None

    @rpc.endpoint
    def console_log(self, ctxt, instance):
        rpc.check(instance, str, 'instance')
        if self.driver.state(instance) is None:
            raise rpc.BusError(rpc.NOT_FOUND, f"no instance {instance} on {self.host_name}")
        return {'instance': instance, 'host': self.host_name,
                'log': self.driver.console_log(instance)}

    # -- reports -----------------------------------------------------------
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
        self._known = {k: v for k, v in self._known.items() if k in live}
        return reported

    def report(self):
        """Send topology + domains (the heartbeat); never raises."""
        self.dirty.clear()
        self.last_report = time.monotonic()
        try:
            self.scheduler.report_host(self.topology().to_dict(), self.domains())
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
        return on_change and self.dirty.is_set() and since >= min_interval

    def startup(self):
        """Reconcile libvirt with the instance directories, then report at once."""
        result = self.driver.reconcile()
        LOG.info('Host %s: %d domains adopted, %d interrupted builds cleaned, %d unreadable',
                 self.host_name, len(result.adopted), len(result.cleaned),
                 len(result.unreadable))
        self.report()
        return result


def _parse_build(assignment, spec, request):
    rpc.check(assignment, dict, 'assignment')
    rpc.check(spec, dict, 'spec')
    if request is not None:
        rpc.check(request, dict, 'request')
    parsed = Assignment.from_dict(assignment, limits=limits.from_conf())
    try:
        parsed_spec = RequestSpec.from_dict(spec)
    except (TypeError, KeyError, ValueError) as exc:
        raise rpc.invalid('spec', f"not a request spec: {exc}")
    return parsed_spec, parsed


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
