"""The per-role RabbitMQ permission regexes (the real broker's verdicts are in
tests/functional/test_broker_permissions.py)."""

import re

import pytest

from wire import broker_roles


def matches(pattern, name):
    return re.fullmatch(pattern, name) is not None


ROLES = {'agent': broker_roles.agent_role(['node-1.rack']),
         'scheduler': broker_roles.scheduler_role(), 'operator': broker_roles.operator_role()}

# role, kind of permission, resource name, whether it matches
TABLE = """
agent       read         kvmfleet-agent.node-1.rack        yes
agent       read         kvmfleet-agent.node-1Xrack        no   (a dot is not a wildcard)
agent       read         kvmfleet-agent.node-2             no
agent       read         kvmfleet-agent.node-1.rack.evil   no
agent       read         kvmfleet-scheduler                no
agent       configure    kvmfleet-agent_fanout_1f2e        yes
agent       write        amq.default                       yes  (replies to console_log)
agent       read         reply_1f2e                        no
agent       topic_write  kvmfleet-scheduler                yes
agent       topic_write  kvmfleet-agent.node-2             no
agent       configure    notifications.info                yes  (notifications on)
agent       write        notifications.error               yes
agent       topic_write  notifications.info                yes
agent       read         notifications.info                no   (publishes, never reads)
agent       configure    notificationsXinfo                no
agent       topic_read   kvmfleet-agent.node-2             no
scheduler   read         kvmfleet-scheduler                yes
scheduler   read         kvmfleet-scheduler.sched-1        yes
scheduler   read         kvmfleet-agent.node-1.rack        no
scheduler   configure    notifications.info                yes
scheduler   write        notifications.error               yes
operator    read         kvmfleet-scheduler                no
operator    configure    kvmfleet-scheduler                no
operator    read         reply_1f2e                        yes
operator    topic_read   kvmfleet-scheduler                no
"""
CASES = [line.split()[:4] for line in TABLE.strip().splitlines()]


@pytest.mark.parametrize('role,kind,name,expected', CASES,
                         ids=['-'.join(case) for case in CASES])
def test_role_regexes(role, kind, name, expected):
    assert matches(ROLES[role][kind], name) is (expected == 'yes')


def test_an_agent_user_without_a_host_is_an_error():
    with pytest.raises(ValueError, match='at least one --host'):
        broker_roles.role_permissions('agent', [])


def test_the_printed_commands_can_be_pasted_into_a_shell(capsys):
    assert broker_roles.main(['agent', '--user', 'agent-n1', '--vhost', '/kvmfleet',
                              '--host', 'n1']) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("rabbitmqctl set_permissions -p /kvmfleet agent-n1 '^(")
    assert lines[1] == ("rabbitmqctl set_topic_permissions -p /kvmfleet agent-n1 openstack "
                        "'^(kvmfleet-scheduler|(notifications)\\..*)$' "
                        "'^kvmfleet-agent(\\.(n1))?$'")


def test_other_notification_topics_replace_the_default():
    agent = broker_roles.agent_role(['n1'], notification_topics=['fleet-a', 'ops.b'])
    assert matches(agent['topic_write'], 'fleet-a.info')
    assert matches(agent['topic_write'], 'ops.b.error')
    assert not matches(agent['topic_write'], 'notifications.info')
    assert not matches(agent['configure'], 'opsXb.info')
