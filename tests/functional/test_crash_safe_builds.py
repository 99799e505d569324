"""A scheduler killed between a boot's claim and its build cast: after its restart the
instance becomes ACTIVE without any client action (real scheduler process, real
RabbitMQ, simulated agents).

The kill is the test-only fault ``[scheduler] test_crash_after_claim``: the
scheduler SIGKILLs itself right after the claim's commit, before the cast.
"""

import signal
import uuid as uuidlib

import oslo_messaging as messaging
import pytest

from agent.domain import domain_name
from tests import busfleet
from tests.functional.bus_stack import running_stack

pytestmark = pytest.mark.rabbit

CRASHING = '[scheduler]\ntest_crash_after_claim = true\n'


def crash_after_claim(stack):
    stack.config.write_text(stack.config.read_text().replace('[scheduler]\n', CRASHING, 1))


def test_a_build_claimed_by_a_scheduler_killed_before_the_cast_becomes_active(rabbit_url,
                                                                             tmp_path):
    with running_stack(tmp_path, busfleet.fleet(2, prefix='crash'),
                       prepare=crash_after_claim) as stack:
        uuid = str(uuidlib.uuid4())
        with pytest.raises(messaging.MessagingTimeout):     # it dies before it answers
            stack.api(timeout=4).boot(dict(busfleet.PINNED, name='orphan'),
                                      instance_uuids=[uuid])
        assert stack.scheduler.wait(20) == -signal.SIGKILL
        stack.scheduler = None
        record = stack.store().get_instance(uuid)
        assert record.state == 'BUILDING' and record.assignment is not None
        assert [b.uuid for b in stack.store().pending_builds()] == [uuid]
        host = stack.manager(record.host)
        assert host.driver.state(uuid) is None          # the build never left
        stack.config.write_text(stack.config.read_text().replace(CRASHING, '[scheduler]\n'))
        stack.start_scheduler(sync=False)
        final = stack.wait_settled([uuid], timeout=30)[uuid]
        assert final['state'] == 'ACTIVE', final
        assert host.driver.state(uuid) == 'running'
        names = [d[0] for d in host.driver.conn.list_domains()]
        assert names.count(domain_name(uuid)) == 1
        assert stack.store().pending_builds() == []
