"""Host reports (scheduler/reports.py): coalesced per host, a bounded number of threads,
a report that changes nothing works without the scheduler lock, and a build is judged by
when the agent listed its domains (scheduler RPC 1.8), not by when the report is worked."""

import threading
import time

import pytest
from oslo_config import cfg

from scheduler import reports
from scheduler.store import BUILDING, ERROR
from tests import busfleet
from tests.unit.scheduler.test_manager import (  # noqa: F401  (fixtures)
    add_hosts,
    bus,
    postgres_schema,
    report,
    world,
)
from wire import rpc

GRACE = cfg.CONF.scheduler.build_grace_period


class GatedWork:
    """A report worker that blocks on the reports of ``held`` until released."""

    def __init__(self, held=()):
        self.held = set(held)
        self.release = threading.Event()
        self.started = {}
        self.worked = []
        self.lock = threading.Lock()

    def __call__(self, report):
        host, seq = report
        self.started.setdefault(host, threading.Event()).set()
        if host in self.held:
            self.release.wait(10)
        with self.lock:
            self.worked.append(report)
        return f"answer {host} {seq}"

    def wait_started(self, host):
        assert self.started.setdefault(host, threading.Event()).wait(10)


def submit_in_thread(queue, host, report, answers):
    thread = threading.Thread(target=lambda: answers.append(queue.submit(host, report)))
    thread.start()
    return thread


def test_an_idle_queue_works_the_report_in_the_callers_thread_and_answers():
    queue = reports.ReportQueue(GatedWork(), workers=2)
    assert queue.submit('a', ('a', 1)) == 'answer a 1'
    assert queue.waiting() == 0


def test_a_newer_report_supersedes_the_waiting_one_and_a_host_is_worked_in_order():
    work = GatedWork(held={'a'})
    queue = reports.ReportQueue(work, workers=2)
    first = []
    runner = submit_in_thread(queue, 'a', ('a', 1), first)
    work.wait_started('a')
    # the host is busy: these threads leave at once, the newest report waits
    assert [queue.submit('a', ('a', seq)) for seq in (2, 3, 4)] == [None, None, None]
    assert queue.waiting() == 1 and queue.superseded == 2
    work.release.set()
    runner.join(10)
    assert first == ['answer a 1']
    assert work.worked == [('a', 1), ('a', 4)] and queue.waiting() == 0


def test_at_most_workers_threads_work_reports_the_others_return_at_once():
    work = GatedWork(held={'a', 'b'})
    queue = reports.ReportQueue(work, workers=2)
    answers = []
    runners = [submit_in_thread(queue, host, (host, 1), answers) for host in 'ab']
    for host in 'ab':
        work.wait_started(host)
    assert queue.submit('c', ('c', 1)) is None       # both workers busy: left to them
    assert 'c' not in work.started
    work.release.set()
    for runner in runners:
        runner.join(10)
    assert sorted(work.worked) == [('a', 1), ('b', 1), ('c', 1)]
    assert queue.waiting() == 0 and queue._working == 0


def test_reports_of_more_hosts_than_may_wait_are_refused_newer_ones_still_supersede():
    work = GatedWork(held={'a'})
    queue = reports.ReportQueue(work, workers=1, max_waiting=2)
    answers = []
    runner = submit_in_thread(queue, 'a', ('a', 1), answers)
    work.wait_started('a')
    assert queue.submit('b', ('b', 1)) is None and queue.submit('c', ('c', 1)) is None
    with pytest.raises(rpc.BusError, match='report of host d refused: 2 hosts'):
        queue.submit('d', ('d', 1))
    assert queue.submit('c', ('c', 2)) is None        # a waiting host: superseded
    work.release.set()
    runner.join(10)
    assert sorted(work.worked) == [('a', 1), ('b', 1), ('c', 2)]


def test_a_failing_report_left_to_another_thread_is_logged_and_the_queue_goes_on(caplog):
    gate = threading.Event()
    started = threading.Event()

    def work(report):
        if report == 'slow':
            started.set()
            gate.wait(10)
        if report == 'bad':
            raise RuntimeError('broken store')
        return report
    queue = reports.ReportQueue(work, workers=1)
    answers = []
    runner = submit_in_thread(queue, 'a', 'slow', answers)
    assert started.wait(10)
    assert queue.submit('b', 'bad') is None and queue.submit('c', 'fine') is None
    gate.set()
    runner.join(10)
    assert answers == ['slow'] and queue.waiting() == 0 and queue._working == 0
    assert 'Report of host b failed' in caplog.text


@pytest.mark.parametrize('age', [-1, -0.001, float('nan'), float('inf'), 1e9, 10 ** 400,
                                 '3', True, [1]])
def test_a_listing_age_out_of_bounds_or_not_a_number_is_refused(age):
    with pytest.raises(rpc.BusError) as caught:
        reports.listed_at(1000.0, age)
    assert caught.value.code == rpc.INVALID_INPUT and 'listing_age' in caught.value.message


def test_the_listing_time_is_the_receive_time_less_the_age_or_the_receive_time():
    assert reports.listed_at(1000.0, None) == 1000.0
    assert reports.listed_at(1000.0, 0) == 1000.0
    assert reports.listed_at(1000.0, 12.5) == 987.5
    assert reports.listed_at(1000.0, reports.MAX_LISTING_AGE_S) == 400.0


# -- through the manager ---------------------------------------------------

def test_a_late_report_listed_before_the_build_does_not_error_it(world):  # noqa: F811
    [host] = add_hosts(world, 1)
    world.clock.now += 1       # the agent lists its domains, then the build arrives
    uuid = world.client.boot(busfleet.PINNED)['instances'][0]['uuid']
    world.clock.now += GRACE + 5    # the report is worked long after (a busy scheduler)
    world.manager.report_host.__wrapped__(world.manager, {}, host=host, instances=[],
                                          listing_age=GRACE + 6)
    assert world.store.get_instance(uuid).state == BUILDING
    assert len(world.store.all_allocations()) == 1
    # a listing taken after the grace, late or not, still finds the build lost
    world.manager.report_host.__wrapped__(world.manager, {}, host=host, instances=[],
                                          listing_age=2)
    record = world.store.get_instance(uuid)
    assert record.state == ERROR and 'no domain on host' in record.reason
    assert world.store.all_allocations() == []


def test_a_report_without_a_listing_age_is_judged_at_its_arrival_as_before(world):  # noqa: F811
    [host] = add_hosts(world, 1)
    uuid = world.client.boot(busfleet.PINNED)['instances'][0]['uuid']
    world.clock.now += GRACE + 1
    report(world, host)                                     # a 1.0 agent
    assert world.store.get_instance(uuid).state == ERROR


def test_a_1_8_report_reaches_the_manager_over_the_bus(world):  # noqa: F811
    [host] = add_hosts(world, 1)
    world.clock.now += 1
    uuid = world.client.boot(busfleet.PINNED)['instances'][0]['uuid']
    world.clock.now += GRACE + 5
    taken = threading.Event()          # a call: the report has been worked when it returns
    world.client.report_host(host, [], taken=taken, listed=time.monotonic() - GRACE - 6)
    assert taken.is_set() and world.store.get_instance(uuid).state == BUILDING
    world.client.report_host(host, [], taken=taken)           # as a 1.0 agent sends it
    assert world.store.get_instance(uuid).state == ERROR


def test_an_unchanged_report_of_an_up_host_needs_no_lock(world):  # noqa: F811
    [host] = add_hosts(world, 1)
    world.clock.now += 5
    holder_has_lock, release = threading.Event(), threading.Event()

    def hold_lock():
        with world.manager.lock:
            holder_has_lock.set()
            release.wait(10)
    holder = threading.Thread(target=hold_lock)
    holder.start()
    try:
        assert holder_has_lock.wait(10)
        done = threading.Event()
        reporter = threading.Thread(target=lambda: (report(world, host), done.set()))
        reporter.start()
        assert done.wait(5), 'an unchanged report waited for the scheduler lock'
        assert world.store.get_host(host['name']).last_heartbeat == world.clock.now
        assert world.manager.state.heartbeats[host['name']] == world.clock.now
        # a report that changes the view (a new topology) waits for the lock
        changed = dict(host, traits=['CUSTOM_NEW'])
        done.clear()
        reporter = threading.Thread(target=lambda: (report(world, changed), done.set()))
        reporter.start()
        assert not done.wait(0.5)
    finally:
        release.set()
        holder.join(10)
    assert done.wait(10)
    assert 'CUSTOM_NEW' in world.manager.state.fleet.state(host['name']).topology.traits
