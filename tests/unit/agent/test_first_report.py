"""Cold start, agent side: the first report is a call sent again, with a growing, bounded
delay, until a scheduler takes it; a scheduler's report_now makes every host report."""

import time
import types

import oslo_messaging as messaging

from agent import manager as agent_manager
from agent.manager import AgentManager
from agent.simulated import FanoutsSeen, HostRouter
from agent.updates import BatchingSchedulerAPI


class Scheduler:
    """Records each report as 'call' (with ``taken``) or 'cast'; answers calls if told."""

    def __init__(self, answers=False):
        self.sent, self.answers = [], answers

    def report_host(self, host, instances, taken=None, listed=None):
        self.sent.append((host['name'], 'cast' if taken is None else 'call'))
        if taken is not None and self.answers:
            taken.set()


def host(name='h1', scheduler=None):
    driver = types.SimpleNamespace(config=types.SimpleNamespace(images_path='/nonexistent'),
                                   conn=types.SimpleNamespace(list_domains=lambda: []))
    topology = types.SimpleNamespace(to_dict=lambda: {'name': name})
    return AgentManager(name, driver, lambda: topology, scheduler or Scheduler())


def due_after(manager, seconds, interval=60):
    return manager.report_due(manager.last_report + seconds, interval, 1.0, False)


def test_unanswered_first_reports_are_calls_sent_again_ever_later_up_to_the_interval():
    manager = host()
    delays = []
    for _ in range(8):
        manager.report()
        delays.append(next(s / 10 for s in range(1, 1000) if due_after(manager, s / 10, 10)))
    first = agent_manager.FIRST_REPORT_RETRY_S
    assert delays == [first, first * 2, first * 4, first * 8, 10, 10, 10, 10]
    assert {kind for _, kind in manager.scheduler.sent} == {'call'}


def test_once_a_scheduler_took_a_report_the_host_casts_at_its_interval():
    manager = host(scheduler=Scheduler(answers=True))
    manager.report()
    assert manager.taken.is_set()
    assert not due_after(manager, 30) and due_after(manager, 60)
    manager.report()
    assert manager.scheduler.sent == [('h1', 'call'), ('h1', 'cast')]


def test_report_now_of_a_simulated_fleet_is_checked_once_and_reaches_every_host():
    managers = [host(f"h{i}") for i in range(4)]
    for manager in managers:
        manager.taken.set()
        manager.last_report = 1e9          # just reported
    checked = []
    for manager in managers:                # a verifier that counts its checks
        manager.verifier = types.SimpleNamespace(verify=lambda *args: checked.append(args))
    seen = FanoutsSeen()
    routers = [HostRouter(managers[:2], seen), HostRouter(managers[2:], seen)]
    signed = {'kvmfleet_signature': {'nonce': 'n1'}}
    for router in routers:                  # each server of the fleet gets its own copy
        router.report_now(signed)
    assert len(checked) == 1
    assert all(m.report_due(0.0, 60, 1.0, False) for m in managers)


class TimingOut:
    def __init__(self):
        self.sent = []

    def report_host(self, host, instances, taken=None, listed=None):
        self.sent.append((host['name'], 'cast' if taken is None else 'call'))
        if taken is not None:
            raise messaging.MessagingTimeout('nobody consumes')


def test_after_an_unanswered_call_the_other_first_reports_are_cast_not_waited_on():
    api = TimingOut()
    batching = BatchingSchedulerAPI(api, linger=0.0)
    for name in ('h1', 'h2', 'h3'):
        batching.report_host({'name': name}, [], taken=object())
    batching.close()
    assert api.sent == [('h1', 'call'), ('h2', 'cast'), ('h3', 'cast')]


def test_a_report_carries_the_monotonic_time_taken_before_its_domains_were_listed():
    seen = {}

    class Listing(Scheduler):
        def report_host(self, host, instances, taken=None, listed=None):
            seen['listed'] = listed
            super().report_host(host, instances, taken, listed)
    manager = host(scheduler=Listing())

    def list_domains():
        seen['listing'] = time.monotonic()
        return []
    manager.driver.conn.list_domains = list_domains
    manager.report()
    assert seen['listed'] <= seen['listing']
    assert seen['listing'] - seen['listed'] < 5
