"""RabbitMQ users per role: the permissions each kvmfleet role needs, and nothing more.

Three roles share a vhost: the scheduler, one agent per host, the operators (the
``kvmfleet`` CLI).  Each gets configure / write / read regexes (vhost permissions)
and, on the topic exchange, routing-key regexes (topic permissions), so that:

* only the scheduler consumes (or binds) the scheduler's queues;
* an agent consumes and binds only its own host's queue, and publishes only to the
  scheduler's topic (it cannot send orders to another host);
* an operator calls the scheduler and reads its own replies, nothing else.

What oslo.messaging's rabbit driver touches: the topic exchange ([DEFAULT]
control_exchange, ``openstack``), the queues ``<topic>`` and ``<topic>.<server>`` bound
to it, a fanout exchange and queue ``<topic>_fanout[_<id>]`` per RPC server, a
``reply_<id>`` queue per calling process (its replies are published to the default
exchange, ``amq.default``), and, when notifications are on, the queues
``<topic>.<priority>`` of each ``[oslo_messaging_notifications] topics`` entry (default
``notifications``) that the scheduler and the agents declare, bind and publish to.
docs/operations.md lists the resulting ``rabbitmqctl`` commands; ``python -m
wire.broker_roles`` prints them.
"""

import argparse
import re
import sys

SCHEDULER_TOPIC = 'kvmfleet-scheduler'
AGENT_TOPIC = 'kvmfleet-agent'
EXCHANGE = 'openstack'
DEFAULT_EXCHANGE = 'amq.default'
NOTHING = '^$'
NOTIFICATION_TOPICS = ('notifications',)   # [oslo_messaging_notifications] topics default


def _literal(text):
    """``text`` matched literally ('-' needs no escape outside a class: kept readable)."""
    return re.escape(text).replace('\\-', '-')


def _any_of(*patterns):
    return '^(' + '|'.join(patterns) + ')$'


def _hosts(hosts):
    """The agent queue names of ``hosts`` (escaped): the topic queue and each host's."""
    names = '|'.join(_literal(host) for host in hosts)
    return f"{_literal(AGENT_TOPIC)}(\\.({names}))?"


def _notification_queues(topics):
    """The ``<topic>.<priority>`` queues of the notification topics."""
    return '(' + '|'.join(_literal(topic) for topic in topics) + ')\\..*'


def scheduler_role(exchange=EXCHANGE, notification_topics=NOTIFICATION_TOPICS):
    """Its queues and fanout, its reply queue (calls to agents), notifications."""
    own = f"{_literal(SCHEDULER_TOPIC)}(\\..+|_fanout.*)?"
    base = (_literal(exchange), own, 'reply_.*')
    notified = _notification_queues(notification_topics)
    return {'configure': _any_of(*base, notified),
            'write': _any_of(*base, _literal(DEFAULT_EXCHANGE), notified),
            'read': _any_of(*base),
            'topic_write': '.*', 'topic_read': '.*'}


def agent_role(hosts, exchange=EXCHANGE, notification_topics=NOTIFICATION_TOPICS):
    """The queues of ``hosts`` only (one host; a simulated fleet: all of its hosts), and
    the notification queues it publishes to (never reads)."""
    own = (_hosts(hosts), f"{_literal(AGENT_TOPIC)}_fanout.*")
    notified = _notification_queues(notification_topics)
    return {'configure': _any_of(_literal(exchange), *own, notified),
            'write': _any_of(_literal(exchange), _literal(DEFAULT_EXCHANGE), *own, notified),
            'read': _any_of(_literal(exchange), *own),
            'topic_write': _any_of(_literal(SCHEDULER_TOPIC), notified),
            'topic_read': '^' + _hosts(hosts) + '$'}


def operator_role(exchange=EXCHANGE):
    """Calls to the scheduler and its own reply queue."""
    return {'configure': _any_of(_literal(exchange), 'reply_.*'),
            'write': _any_of(_literal(exchange), 'reply_.*'),
            'read': _any_of('reply_.*'),
            'topic_write': _any_of(_literal(SCHEDULER_TOPIC)), 'topic_read': NOTHING}


def rabbitmqctl_commands(user, vhost, permissions, exchange=EXCHANGE):
    """The rabbitmqctl argument lists that give ``user`` these permissions on ``vhost``."""
    return [['set_permissions', '-p', vhost, user, permissions['configure'],
             permissions['write'], permissions['read']],
            ['set_topic_permissions', '-p', vhost, user, exchange,
             permissions['topic_write'], permissions['topic_read']]]


def role_permissions(role, hosts=(), notification_topics=NOTIFICATION_TOPICS):
    if role == 'scheduler':
        return scheduler_role(notification_topics=notification_topics)
    if role == 'operator':
        return operator_role()
    if role == 'agent' and hosts:
        return agent_role(hosts, notification_topics=notification_topics)
    raise ValueError(f"role {role!r}: scheduler, operator, or agent with at least one --host")


def main(argv=None):
    """Print the rabbitmqctl commands of one role's user."""
    parser = argparse.ArgumentParser(prog='python -m wire.broker_roles', description=__doc__
                                     .split('\n')[0])
    parser.add_argument('role', choices=('scheduler', 'agent', 'operator'))
    parser.add_argument('--user', required=True)
    parser.add_argument('--vhost', default='/')
    parser.add_argument('--host', action='append', default=[],
                        help='host name(s) an agent user serves (repeatable)')
    parser.add_argument('--notification-topic', action='append', default=[],
                        help='[oslo_messaging_notifications] topics entry (repeatable; '
                             'default: notifications)')
    args = parser.parse_args(argv)
    try:
        permissions = role_permissions(args.role, args.host,
                                       args.notification_topic or NOTIFICATION_TOPICS)
    except ValueError as exc:
        parser.error(str(exc))
    for command in rabbitmqctl_commands(args.user, args.vhost, permissions):
        print('rabbitmqctl ' + ' '.join(_quote(part) for part in command))
    return 0


def _quote(text):
    return text if re.fullmatch(r'[\w./-]+', text) else "'" + text.replace("'", "'\\''") + "'"


if __name__ == '__main__':
    sys.exit(main())
