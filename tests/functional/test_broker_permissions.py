"""Per-role RabbitMQ users on the real broker (wire/broker_roles.py): each role works, and
what a role must not do is refused by the broker itself.

The scheduler, the simulated agents and the operator's client each connect as their
own user on a private vhost; a boot goes through.  Then, table-driven, users of one
agent host and an operator try to consume, declare, bind and publish where they have
no business: the broker answers ACCESS_REFUSED.
"""

import uuid as uuidlib

import amqp
import pytest

from tests import busfleet
from tests.functional.bus_stack import rabbitmqctl, running_stack
from wire import broker_roles

pytestmark = pytest.mark.rabbit

HOSTS = ('perm-0000', 'perm-0001')
SCHEDULER_QUEUE = broker_roles.SCHEDULER_TOPIC
QUEUE_A, QUEUE_B = (f"{broker_roles.AGENT_TOPIC}.{host}" for host in HOSTS)
NOTIFICATIONS = f"{broker_roles.NOTIFICATION_TOPICS[0]}.info"


def add_user(vhost, role, hosts=()):
    user, password = f"kvmfleet-{role}-{uuidlib.uuid4().hex[:8]}", uuidlib.uuid4().hex
    commands = [['add_user', user, password]] + broker_roles.rabbitmqctl_commands(
        user, vhost, broker_roles.role_permissions(role, hosts))
    for command in commands:
        result = rabbitmqctl(*command)
        assert result.returncode == 0, f"rabbitmqctl {command[0]}: {result.stderr}"
    return user, password


@pytest.fixture(scope='module')
def stack(rabbit_url, tmp_path_factory):
    users = {}

    def with_users(stack):
        users.update(scheduler=add_user(stack.vhost, 'scheduler'),
                     agent=add_user(stack.vhost, 'agent', HOSTS),   # the simulated fleet
                     operator=add_user(stack.vhost, 'operator'),
                     agent_a=add_user(stack.vhost, 'agent', HOSTS[:1]))
        stack.use_users(users)
    try:
        with running_stack(tmp_path_factory.mktemp('roles'), busfleet.fleet(2, prefix='perm'),
                           prepare=with_users) as stack:
            yield stack
    finally:
        for user, _ in users.values():
            rabbitmqctl('delete_user', user)


def test_each_role_with_its_own_user_boots_an_instance(stack):
    assert 'guest' not in stack.config.read_text()
    uuid = stack.api().boot(busfleet.request(busfleet.SRIOV, name='per-role'))[
        'instances'][0]['uuid']
    assert stack.wait_settled([uuid])[uuid]['state'] == 'ACTIVE'
    log = (stack.workdir / 'scheduler.log').read_text(errors='replace')
    assert 'ACCESS_REFUSED' not in log and 'access_refused' not in log.lower()


def _consume(channel, name):
    channel.basic_consume(name, callback=lambda message: None)


def _declare(channel, name):
    channel.queue_declare(name, durable=False, auto_delete=False)


def _bind_own_queue(channel, routing_key):
    """Bind a queue the user may own to the topic exchange under ``routing_key``."""
    channel.queue_bind(channel.own_queue, broker_roles.EXCHANGE, routing_key)


def _publish(channel, routing_key):
    channel.confirm_select()
    channel.basic_publish_confirm(amqp.Message('{}'), exchange=broker_roles.EXCHANGE,
                                  routing_key=routing_key)


# (who, what, on what, allowed): each refusal beside an allowed twin where one is safe
CASES = [
    ('operator', _consume, SCHEDULER_QUEUE, False),
    ('operator', _declare, SCHEDULER_QUEUE, False),
    ('operator', _bind_own_queue, SCHEDULER_QUEUE, False),     # a tap on every request
    ('operator', _publish, QUEUE_A, False),                    # orders straight to an agent
    ('agent_a', _consume, SCHEDULER_QUEUE, False),
    ('agent_a', _declare, SCHEDULER_QUEUE, False),
    ('agent_a', _consume, QUEUE_B, False),                     # another host's orders
    ('agent_a', _bind_own_queue, QUEUE_B, False),              # a copy of them
    ('agent_a', _bind_own_queue, QUEUE_A, True),
    ('agent_a', _publish, QUEUE_B, False),                     # orders to another host
    ('agent_a', _declare, NOTIFICATIONS, True),                # notifications on: it tells
    ('agent_a', _publish, NOTIFICATIONS, True),
    ('agent_a', _consume, NOTIFICATIONS, False),               # but reads no one's
    ('operator', _publish, NOTIFICATIONS, False),
]


@pytest.mark.parametrize('who,action,name,allowed', CASES,
                         ids=[f"{c[0]}-{c[1].__name__[1:]}-{c[2]}" for c in CASES])
def test_what_a_role_must_not_do_is_refused_by_the_broker(stack, who, action, name, allowed):
    user, password = stack.users[who]
    connection = amqp.Connection(host='127.0.0.1:5672', userid=user, password=password,
                                 virtual_host=stack.vhost, connect_timeout=5)
    connection.connect()
    try:
        channel = connection.channel()
        channel.own_queue = QUEUE_A if who == 'agent_a' else f"reply_{uuidlib.uuid4().hex}"
        if who == 'operator':
            channel.queue_declare(channel.own_queue, auto_delete=True)
        if allowed:
            action(channel, name)
            return
        with pytest.raises(amqp.exceptions.AccessRefused) as excinfo:
            action(channel, name)
        assert excinfo.value.reply_code == 403
    finally:
        try:
            connection.close()
        except (OSError, amqp.exceptions.AMQPError):
            pass
