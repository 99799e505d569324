"""libvirt's lifecycle events and reconnection, for one real host.

libvirt tells the agent when a domain starts, stops, crashes, is paused,
resumed or undefined (agent.libvirt_conn runs its event loop).  The
``LifecycleWatcher`` thread turns each event into what the scheduler must
know, at once rather than at the next report:

- an early host report (the report carries every domain);
- an ``instance_update`` when a kvmfleet instance changed behind the agent's
  back: ACTIVE that stopped becomes STOPPED (ERROR when the guest crashed),
  STOPPED or ERROR that runs again becomes ACTIVE (``follow``).  A domain that
  disappeared is left to the scheduler's report reconciliation.

The state sent is the domain's state when the event is handled, not the
event's: events can arrive late.  Events of a domain the agent itself is
building, powering or deleting are skipped, report included: the operation
reports its own result.

When libvirtd stops or the connection drops, libvirt calls the close
callback; the watcher reopens the connection with a bounded exponential
backoff ([libvirt] reconnect_interval_min .. reconnect_interval_max),
registers its callbacks again, rediscovers the host, compares every domain
with what the scheduler was told (events missed while disconnected) and
reports.  While disconnected no report is sent: the seam refuses every call
rather than answer with an empty domain list.

Every ``[agent] domain_sync_interval`` seconds the same comparison runs as a
safety net for a lost event.
"""

import dataclasses
import logging
import queue
import threading
import time

from oslo_config import cfg

from agent.domain import domain_name
from agent.exceptions import AgentError
from agent.manager import ACTIVE, ERROR, RUNNING_STATES, STOPPED
from wire import opts as wire_opts

LOG = logging.getLogger(__name__)

agent_opts = [
    cfg.BoolOpt('lifecycle_events', default=True,
                help="Follow libvirt's domain lifecycle events: a guest that stops, crashes "
                     'or starts outside kvmfleet is reported at once. Off: only the '
                     'periodic reports and domain_sync_interval notice it.'),
    cfg.IntOpt('domain_sync_interval', default=60, min=1,
               help='Seconds between two comparisons of every domain\'s state with what '
                    'the scheduler was told (a safety net behind lifecycle events).'),
]

libvirt_opts = [
    cfg.FloatOpt('reconnect_interval_min', default=0.5, min=0.05,
                 help='Seconds before the first attempt to reopen the libvirt connection '
                      'after it closed (libvirtd restarted); doubled after each failure.'),
    cfg.FloatOpt('reconnect_interval_max', default=30.0, min=0.1,
                 help='Longest wait between two attempts to reopen the libvirt connection. '
                      'The agent keeps trying; it sends no report while disconnected.'),
]

GROUPS = (('agent', agent_opts), ('libvirt', libvirt_opts))
wire_opts.register_groups(cfg.CONF, GROUPS)

CRASH_DETAILS = ('crashed', 'failed')


def list_opts():
    """[(group, options)] for oslo-config-generator and agent/opts.py."""
    return wire_opts.listing(GROUPS)


@dataclasses.dataclass(frozen=True, slots=True)
class WatchSettings:
    lifecycle_events: bool = True
    domain_sync_interval: float = 60.0
    reconnect_interval_min: float = 0.5
    reconnect_interval_max: float = 30.0


def settings_from_conf(conf=cfg.CONF):
    """WatchSettings from the options; the maximum interval is at least the minimum."""
    low = conf.libvirt.reconnect_interval_min
    return WatchSettings(conf.agent.lifecycle_events, conf.agent.domain_sync_interval,
                         low, max(low, conf.libvirt.reconnect_interval_max))


def follow(told, domain_state, event=None, detail=None):
    """``(state, reason)`` to send when an instance the scheduler knows as ``told``
    is now ``domain_state`` (a libvirt state name, None when gone); None: nothing.

    ``event`` and ``detail`` name the lifecycle event that led here, if any.
    """
    if told is None or domain_state is None:
        return None
    running = domain_state in RUNNING_STATES
    if told == ACTIVE and not running:
        seen = f"libvirt: {domain_state}" + (f", {event} {detail}" if event else '')
        if _crashed(domain_state, event, detail):
            return ERROR, f"guest crashed ({seen})"
        return STOPPED, f"domain stopped outside kvmfleet ({seen})"
    if told in (STOPPED, ERROR) and running:
        return ACTIVE, None
    return None


def _crashed(domain_state, event, detail):
    return (domain_state == 'crashed' or event == 'crashed'
            or (event == 'stopped' and detail in CRASH_DETAILS))


def backoff(settings):
    """The waits between reconnection attempts: doubling, capped at the maximum."""
    delay = settings.reconnect_interval_min
    while True:
        yield delay
        delay = min(delay * 2, settings.reconnect_interval_max)


class LifecycleWatcher(threading.Thread):
    """Handles one host's libvirt events, reconnections and periodic state syncs."""

    def __init__(self, manager, settings, clock=time.monotonic):
        super().__init__(name=f"kvmfleet-lifecycle-{manager.host_name}", daemon=True)
        self.manager = manager
        self.conn = manager.driver.conn
        self.settings = settings
        self.clock = clock
        self.events = queue.Queue()
        self.stopping = threading.Event()
        self.reconnects = 0

    def attach(self):
        """Register the callbacks on the connection (before start())."""
        on_lifecycle = self.on_lifecycle if self.settings.lifecycle_events else None
        self.conn.watch(on_lifecycle=on_lifecycle, on_close=self.on_close)

    # Called on libvirt's event loop thread: queue and return.
    def on_lifecycle(self, name, uuid, event, detail):
        self.events.put(('event', name, uuid, event, detail, self.clock()))

    def on_close(self, reason):
        self.events.put(('closed', reason))

    def stop(self):
        self.stopping.set()
        self.events.put(('stop',))

    def run(self):
        self.sync()
        next_sync = self.clock() + self.settings.domain_sync_interval
        while not self.stopping.is_set():
            try:
                item = self.events.get(timeout=max(0.0, next_sync - self.clock()))
            except queue.Empty:
                item = ('sync',)
            try:
                self._handle(item)
            except Exception:   # the watcher must outlive any one bad event
                LOG.exception('Handling %s failed', item[0])
            if item[0] == 'sync' or self.clock() >= next_sync:
                next_sync = self.clock() + self.settings.domain_sync_interval

    def _handle(self, item):
        kind = item[0]
        if kind == 'event':
            self.domain_event(*item[1:])
        elif kind == 'closed' and not self.conn.connected:
            self.reconnect(item[1])
        elif kind == 'sync':
            self.sync()

    def domain_event(self, name, uuid, event, detail, received):
        """One lifecycle event: an update if the instance changed, and a report."""
        if self.manager.driver.busy(uuid):
            # The agent's own operation: its result (and the report after it) is what the
            # scheduler gets.  A report now could show a domain running while its start
            # has not returned yet, and the scheduler would take the build for finished.
            return
        self.manager.dirty.set()
        instance = self.manager.instance_of(name)
        if instance is None:
            return
        try:
            state = self.conn.domain_state(name)
        except AgentError as exc:
            LOG.info('Event %s of %s: state unreadable (%s)', event, name, exc)
            return
        self._follow(instance, state, event, detail)
        LOG.debug('Event %s (%s) of %s handled %.3f s after it arrived', event, detail, name,
                  self.clock() - received)

    def _follow(self, uuid, state, event=None, detail=None):
        change = follow(self.manager.instance_states.get(uuid), state, event, detail)
        if change is not None:
            LOG.info('Instance %s on %s is now %s: %s', uuid, self.manager.host_name,
                     change[0], change[1] or f"libvirt: {state}")
            self.manager.instance_changed(uuid, *change)

    def sync(self):
        """Compare every kvmfleet domain with what the scheduler was told."""
        try:
            domains = self.manager.domains()
        except AgentError as exc:
            LOG.warning('Domain sync of %s failed: %s', self.manager.host_name, exc)
            if self.conn.connected and not self.conn.is_alive():
                self.reconnect('connection not alive')
            return
        for entry in domains:
            if 'assignment' not in entry or self.manager.driver.busy(entry['uuid']):
                continue
            # first sight (agent start): the scheduler learns this state from the report
            self.manager.instance_states.setdefault(
                entry['uuid'], ACTIVE if entry['state'] in RUNNING_STATES else STOPPED)
            self._follow(entry['uuid'], entry['state'], *self._why_off(entry))

    def _why_off(self, entry):
        """('stopped', reason) for a domain the sync finds shut off (a QEMU that died is
        'crashed', as its event says: whichever the watcher sees first), else ()."""
        if entry['state'] != 'shutoff':
            return ()
        try:
            reason = self.conn.shutoff_reason(domain_name(entry['uuid']))
        except AgentError:
            return ()
        return ('stopped', reason) if reason else ()

    def reconnect(self, reason):
        """Reopen the connection (bounded backoff), then rediscover, sync and report."""
        LOG.warning('libvirt connection %s closed (%s): reconnecting', self.conn.uri, reason)
        started = self.clock()
        for attempt, delay in enumerate(backoff(self.settings), start=1):
            if self.stopping.wait(delay):
                return
            try:
                self.conn.reopen()
            except AgentError as exc:
                log = LOG.warning if attempt == 1 else LOG.debug
                log('Reconnecting to %s (attempt %d): %s', self.conn.uri, attempt, exc)
                continue
            break
        self.reconnects += 1
        LOG.info('Reconnected to %s after %.2f s (%d attempt(s))', self.conn.uri,
                 self.clock() - started, attempt)
        refresh = getattr(self.manager.topology, 'refresh', None)
        if refresh is not None:
            refresh()
        self.sync()
        self.manager.dirty.set()
