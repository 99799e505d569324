"""LifecycleWatcher: events -> instance updates, reconnection with backoff, syncs.

The rule (``follow``) is pure; the watcher runs against a fake manager and a
fake connection at the seam (the real seam's events are in test_libvirt_events).
"""

import threading
import time

import pytest

from agent import lifecycle
from agent.exceptions import LibvirtError
from agent.lifecycle import LifecycleWatcher, WatchSettings, backoff, follow
from agent.manager import ACTIVE, ERROR, STOPPED, AgentManager

U1, U2 = '00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000002'
FAST = WatchSettings(domain_sync_interval=3600, reconnect_interval_min=0.001,
                     reconnect_interval_max=0.004)


@pytest.mark.parametrize('told, state, event, detail, expected', [
    (ACTIVE, 'shutoff', 'stopped', 'destroyed', STOPPED),
    (ACTIVE, 'shutoff', 'shutdown', 'by the guest', STOPPED),
    (ACTIVE, 'shutoff', None, None, STOPPED),             # found by a sync
    (ACTIVE, 'shutoff', 'stopped', 'crashed', ERROR),
    (ACTIVE, 'shutoff', 'stopped', 'failed', ERROR),
    (ACTIVE, 'crashed', 'crashed', 'panicked', ERROR),
    (ACTIVE, 'crashed', None, None, ERROR),
    (ACTIVE, 'running', 'stopped', 'destroyed', None),    # late event: the state now wins
    (ACTIVE, 'paused', 'suspended', '0', None),           # paused still holds its resources
    (STOPPED, 'running', 'started', 'booted', ACTIVE),
    (ERROR, 'running', 'resumed', '0', ACTIVE),
    (ERROR, 'shutoff', 'stopped', 'destroyed', None),     # the error's reason is kept
    (STOPPED, 'shutoff', 'stopped', 'destroyed', None),
    (ACTIVE, None, 'undefined', '0', None),   # gone: the scheduler's reconciliation decides
    (None, 'shutoff', 'stopped', 'destroyed', None),      # never told: the next report says it
    ('DELETED', 'running', 'started', 'booted', None),
])
def test_follow(told, state, event, detail, expected):
    change = follow(told, state, event, detail)
    assert (change and change[0]) == expected
    if change and change[0] != ACTIVE:     # the reason names what libvirt said
        assert f"libvirt: {state}" in change[1]
        assert event is None or f"{event} {detail}" in change[1]


def test_the_driver_is_busy_exactly_while_it_operates_on_an_instance():
    seen = []

    class Conn:
        def domain_state(self, name):
            return 'running'

        def destroy_domain(self, name):
            seen.append(driver.busy(U1))

    from agent.driver import InstanceDriver
    from agent.driver_opts import DriverConfig
    driver = InstanceDriver(Conn(), None, DriverConfig(), vhost_net=False)
    assert not driver.busy(U1)
    driver.stop(U1)
    with driver._in_flight.operating(U1):
        driver.stop(U1)          # nested: still busy after the inner one ends
        assert driver.busy(U1)
    assert seen == [True, True] and not driver.busy(U1)


def test_backoff_doubles_up_to_the_maximum():
    waits = backoff(WatchSettings(reconnect_interval_min=0.5, reconnect_interval_max=3))
    assert [next(waits) for _ in range(6)] == [0.5, 1, 2, 3, 3, 3]


def test_settings_never_have_a_maximum_below_the_minimum():
    class Conf:
        class agent:
            lifecycle_events = True
            domain_sync_interval = 30
        class libvirt:
            reconnect_interval_min = 5.0
            reconnect_interval_max = 1.0
    settings = lifecycle.settings_from_conf(Conf)
    assert (settings.reconnect_interval_min, settings.reconnect_interval_max) == (5.0, 5.0)


class FakeConn:
    """The seam's connection-management surface, with failures on demand."""

    uri = 'fake:///'

    def __init__(self):
        self.states = {}          # domain name -> libvirt state
        self.connected = True
        self.reopen_failures = 0
        self.reopens = 0
        self.watching = None

    def watch(self, on_lifecycle=None, on_close=None):
        self.watching = (on_lifecycle, on_close)

    def domain_state(self, name):
        if not self.connected:
            raise LibvirtError('state', 'closed')
        return self.states.get(name)

    def shutoff_reason(self, name):
        return None               # the real seam's answer is tested on libvirt's test driver

    def reopen(self):
        if self.reopen_failures:
            self.reopen_failures -= 1
            raise LibvirtError('open fake:///', 'connection refused')
        self.reopens += 1
        self.connected = True

    def is_alive(self):
        return self.connected


class FakeDriver:
    def __init__(self, conn):
        self.conn = conn
        self.busy_uuids = set()

    def busy(self, instance):
        return instance in self.busy_uuids


class FakeManager:
    host_name = 'host-a'

    def __init__(self):
        self.driver = FakeDriver(FakeConn())
        self.dirty = threading.Event()
        self.instance_states = {}
        self.updates = []
        self.listing = []          # what domains() answers
        self.refreshed = 0
        self.topology = self

    def refresh(self):
        self.refreshed += 1

    def instance_of(self, name):
        return {'kvmfleet-' + U1: U1, 'kvmfleet-' + U2: U2}.get(name)

    def instance_changed(self, uuid, state, reason=None):
        self.updates.append((uuid, state, reason))
        self.instance_states[uuid] = state

    def domains(self):
        if not self.driver.conn.connected:
            raise LibvirtError('listAllDomains', 'closed')
        return list(self.listing)


@pytest.fixture
def manager():
    return FakeManager()


@pytest.fixture
def watcher(manager):
    return LifecycleWatcher(manager, FAST)


def test_a_guest_destroyed_behind_the_agent_is_stopped_at_once(manager, watcher):
    manager.instance_states[U1] = ACTIVE
    manager.driver.conn.states['kvmfleet-' + U1] = 'shutoff'
    watcher.domain_event('kvmfleet-' + U1, U1, 'stopped', 'destroyed', 0.0)
    [(uuid, state, reason)] = manager.updates
    assert (uuid, state) == (U1, STOPPED) and 'destroyed' in reason
    assert manager.dirty.is_set()


def test_events_of_a_domain_the_agent_operates_on_are_left_to_the_operation(manager,
                                                                           watcher):
    manager.instance_states[U1] = ACTIVE
    manager.driver.conn.states['kvmfleet-' + U1] = 'shutoff'
    manager.driver.busy_uuids.add(U1)       # the agent is stopping it itself
    watcher.domain_event('kvmfleet-' + U1, U1, 'stopped', 'destroyed', 0.0)
    assert manager.updates == [] and not manager.dirty.is_set()


def test_events_of_unknown_or_unchanged_domains_only_ask_for_a_report(manager, watcher):
    manager.instance_states[U2] = ACTIVE
    manager.driver.conn.states.update({'kvmfleet-' + U2: 'running', 'other': 'shutoff'})
    watcher.domain_event('other', 'x', 'stopped', 'destroyed', 0.0)
    assert manager.dirty.is_set()
    watcher.domain_event('kvmfleet-' + U2, U2, 'resumed', '0', 0.0)
    assert manager.updates == [] and manager.dirty.is_set()


def test_the_state_now_wins_over_a_late_event(manager, watcher):
    manager.instance_states[U1] = ACTIVE
    manager.driver.conn.states['kvmfleet-' + U1] = 'running'   # restarted since
    watcher.domain_event('kvmfleet-' + U1, U1, 'stopped', 'destroyed', 0.0)
    assert manager.updates == []


def test_sync_seeds_new_instances_and_follows_known_ones(manager, watcher):
    manager.instance_states.update({U1: ACTIVE, 'in-flight': ACTIVE})
    manager.listing = [
        {'uuid': U1, 'name': 'a', 'state': 'shutoff', 'assignment': {}},
        {'uuid': U2, 'name': 'b', 'state': 'running', 'assignment': {}},
        {'uuid': 'not-ours', 'name': 'c', 'state': 'running'},
    ]
    watcher.sync()
    assert [(u, s) for u, s, _ in manager.updates] == [(U1, STOPPED)]
    # an instance not listed (its build may have finished after the listing) is kept
    assert manager.instance_states == {U1: STOPPED, U2: ACTIVE, 'in-flight': ACTIVE}


def test_reconnect_retries_with_backoff_then_rediscovers_syncs_and_reports(manager, watcher):
    conn = manager.driver.conn
    conn.connected, conn.reopen_failures = False, 3
    manager.instance_states[U1] = ACTIVE
    manager.listing = [{'uuid': U1, 'name': 'a', 'state': 'shutoff', 'assignment': {}}]
    watcher._handle(('closed', 'end of file'))
    assert (conn.reopens, conn.reopen_failures, watcher.reconnects) == (1, 0, 1)
    assert manager.refreshed == 1 and manager.dirty.is_set()
    assert [(u, s) for u, s, _ in manager.updates] == [(U1, STOPPED)]   # missed event


def test_a_close_of_a_connection_already_reopened_is_ignored(manager, watcher):
    watcher._handle(('closed', 'end of file'))
    assert manager.driver.conn.reopens == 0


def test_stop_interrupts_reconnection(manager, watcher):
    conn = manager.driver.conn
    conn.connected, conn.reopen_failures = False, 10 ** 9
    watcher.settings = WatchSettings(reconnect_interval_min=0.01, reconnect_interval_max=0.01)
    runner = threading.Thread(target=watcher.reconnect, args=('eof',))
    runner.start()
    watcher.stop()
    runner.join(2)
    assert not runner.is_alive() and watcher.reconnects == 0


def test_watcher_thread_handles_queued_events_and_stops(manager, watcher):
    manager.instance_states[U2] = STOPPED
    manager.listing = [{'uuid': U2, 'name': 'b', 'state': 'shutoff', 'assignment': {}}]
    manager.driver.conn.states['kvmfleet-' + U2] = 'running'
    watcher.attach()
    on_lifecycle, on_close = manager.driver.conn.watching
    assert on_lifecycle == watcher.on_lifecycle and on_close == watcher.on_close
    watcher.start()
    on_lifecycle('kvmfleet-' + U2, U2, 'started', 'booted')
    deadline = time.monotonic() + 5
    while not manager.updates and time.monotonic() < deadline:
        time.sleep(0.01)
    watcher.stop()
    watcher.join(5)
    assert not watcher.is_alive()
    assert manager.updates == [(U2, ACTIVE, None)]


def test_lifecycle_events_off_registers_only_the_close_callback(manager):
    watcher = LifecycleWatcher(manager, WatchSettings(lifecycle_events=False))
    watcher.attach()
    assert manager.driver.conn.watching == (None, watcher.on_close)


class Scheduler:
    def __init__(self):
        self.reports, self.updates = [], []

    def report_host(self, host, instances, taken=None, listed=None):
        self.reports.append((host, instances))

    def instance_update(self, *args):
        self.updates.append(args)


def test_the_manager_sends_no_report_while_libvirt_is_unreachable(manager):
    scheduler = Scheduler()

    class Topology:
        def to_dict(self):
            return {'name': 'host-a'}
    conn = manager.driver.conn
    conn.list_domains = lambda: (_ for _ in ()).throw(LibvirtError('listAllDomains', 'closed'))
    real = AgentManager('host-a', manager.driver, Topology, scheduler, images_path='/x')
    real.report()
    assert scheduler.reports == []
    real._update(U1, ACTIVE)
    assert real.instance_states == {U1: ACTIVE} and scheduler.updates
    real._update(U1, 'DELETED')
    assert real.instance_states == {}
