"""Cold start on the real RabbitMQ: all hosts up within seconds, whichever starts first.

A starting scheduler asks every agent to report (``report_now``, a signed fanout);
a starting agent sends its first report as a call, again with a growing delay,
until a scheduler has taken it.  The agents report every 60 s here: a host up
within 5 s came up through these two, not through the periodic report; a
new scheduler on an empty store needs the fanout alone (every agent's first
report was taken before).
"""

import time

import pytest

from tests import busfleet
from tests.functional.bus_stack import Stack

pytestmark = pytest.mark.rabbit

UP_WITHIN_S = 5


@pytest.fixture
def stack(rabbit_url, tmp_path):
    stack = Stack(tmp_path, busfleet.fleet(8, prefix='cold'), report_interval=60,
                  down_time=180, hosts_per_connection=4)
    stack.create_vhost()
    stack.sync_database()
    try:
        yield stack
    finally:
        stack.close()


def serving_since(stack):
    """When the scheduler started answering (monotonic), waiting for it."""
    stack.wait_scheduler()
    return time.monotonic()


def assert_all_up_within(stack, since):
    stack.wait_hosts_up(timeout=max(0.1, since + UP_WITHIN_S - time.monotonic()))


def test_agents_first_then_scheduler_all_hosts_up_within_5s(stack):
    stack.start_agents()        # nobody consumes the scheduler's topic: reports go unanswered
    time.sleep(1.5)
    stack.start_scheduler(sync=False)
    assert_all_up_within(stack, serving_since(stack))
    # Every first report is taken now: a new scheduler that has never seen these
    # hosts (an empty store) has them up only by asking (report_now).
    stack.stop_scheduler()
    stack.db.unlink()
    stack.start_scheduler()
    assert_all_up_within(stack, serving_since(stack))


def test_scheduler_first_then_agents_all_hosts_up_within_5s(stack):
    stack.start_scheduler(sync=False)
    serving_since(stack)
    started = time.monotonic()
    stack.start_agents()
    assert_all_up_within(stack, started)
