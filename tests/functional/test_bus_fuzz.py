"""The bus as a trust boundary, on the real RabbitMQ: thousands of malformed messages to
each service (every method, bad versions, bad types, huge values, hostile strings, and
raw envelopes no oslo.messaging client would send) get documented errors only, the
services' logs stay small, and a valid boot works afterwards.

Messages are published with kombu directly (as anyone on the bus could), each call
carrying its own ``_msg_id`` and this test's reply queue, so every answer is read back;
the first 500 are also sent as casts (no caller: dropped, logged within the budget).
"""

import json
import logging
import time
import uuid as uuidlib

import kombu
import pytest

from tests import busfleet, rpc_fuzz
from tests.functional.bus_stack import running_stack
from tests.unit.agent.test_manager import placement
from tests.unit.scheduler.test_manager_fuzz import TEMPLATES as SCHEDULER_TEMPLATES
from wire import agent_rpcapi, rpc, scheduler_rpcapi

pytestmark = pytest.mark.rabbit

MESSAGES_PER_SERVICE = 5000
CASTS = 500                       # the first messages are also sent as casts
UUID = '00000000-0000-4000-8000-0000000000b1'
EXCHANGE = 'openstack'            # oslo.messaging's default control_exchange
# Envelopes the oslo.messaging driver itself cannot read: dropped with one log line.
RAW_BODIES = (b'not json', b'[]', b'{}', b'null', b'{"oslo.version": "2.0"}',
              b'{"oslo.version": "2.0", "oslo.message": "{broken"}',
              b'{"oslo.version": "2.0", "oslo.message": "[1, 2]"}',
              b'{"oslo.version": "9.9", "oslo.message": "{}"}', b'\xff\xfe\x00',
              b'{"oslo.version": "2.0", "oslo.message": "{\\"method\\": \\"hosts\\"}"}')


@pytest.fixture(scope='module')
def stack(rabbit_url, tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp('bus-fuzz'),
                       busfleet.fleet(3, prefix='sim')) as stack:
        yield stack


def agent_templates():
    spec, assignment = placement('sim-0000', busfleet.PINNED, UUID)
    return {'build_instance': {'instance': UUID, 'name': 'vm', 'spec': spec.to_dict(),
                               'assignment': assignment.to_dict(), 'request': {}},
            'delete_instance': {'instance': UUID}, 'stop': {'instance': UUID},
            'start': {'instance': UUID}, 'reboot': {'instance': UUID},
            'console_log': {'instance': UUID}}


def envelope(message, context, msg_id=None, reply_queue=None):
    """The oslo.messaging 2.0 envelope of ``message``: a call when it names a reply queue,
    else a cast."""
    inner = dict(message, _unique_id=msg_id or uuidlib.uuid4().hex,
                 **{f"_context_{k}": v for k, v in context.items()})
    if reply_queue is not None:
        inner.update(_msg_id=msg_id, _reply_q=reply_queue, _timeout=30)
    return {'oslo.version': '2.0', 'oslo.message': json.dumps(inner)}


class Bus:
    """A raw kombu publisher with a reply queue of its own."""

    def __init__(self, url):
        self.connection = kombu.Connection(url.replace('rabbit://', 'amqp://', 1))
        self.reply_queue = f"fuzz-replies-{uuidlib.uuid4().hex[:8]}"
        queue = kombu.Queue(self.reply_queue, exchange=kombu.Exchange(''),
                            routing_key=self.reply_queue, durable=False, auto_delete=True)
        self.replies = {}
        self.consumer = self.connection.Consumer(queue, callbacks=[self._reply], accept=['json'])
        self.consumer.consume()
        self.producer = self.connection.Producer(exchange=kombu.Exchange(EXCHANGE, 'topic',
                                                                         durable=False))

    def _reply(self, body, message):
        inner = json.loads(body['oslo.message'])
        self.replies[inner['_msg_id']] = inner
        message.ack()

    def call(self, topic, message, context=None):
        msg_id = uuidlib.uuid4().hex
        self.producer.publish(envelope(message, context or {}, msg_id, self.reply_queue),
                              routing_key=topic, serializer='json')
        return msg_id

    def cast(self, topic, message, context=None):
        self.producer.publish(envelope(message, context or {}), routing_key=topic,
                              serializer='json')

    def raw(self, topic, body):
        self.producer.publish(body, routing_key=topic, content_type='application/json',
                              content_encoding='binary')

    def wait_replies(self, msg_ids, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not set(msg_ids) <= set(self.replies):
            try:
                self.connection.drain_events(timeout=1)
            except TimeoutError:
                pass
        return [self.replies.get(m) for m in msg_ids]

    def close(self):
        self.connection.release()


def error_code(reply):
    """The BusError code of an answer, None for a result, the class name for anything else."""
    failure = reply.get('failure')
    if not failure:
        return None
    failure = json.loads(failure)
    if failure.get('class') == 'BusError' and failure.get('module') == rpc.__name__:
        return failure['args'][0]
    return f"{failure.get('module')}.{failure.get('class')}"


def huge(messages):
    """Two messages over [DEFAULT] rpc_max_message_bytes (2 MiB by default)."""
    method = messages[0]['method']
    return [{'method': method, 'version': '1.0', 'args': {'instance': 'x' * 3_000_000}},
            {'method': method, 'version': '1.0', 'args': {'x' * 3_000_000: 1}}]


def flood(bus, topic, messages, context=None):
    """Publish every message as a call, then read every answer: {code: count}."""
    messages = messages + huge(messages)
    for message in messages[:CASTS]:      # no caller: dropped with one (budgeted) line each
        bus.cast(topic, message, context)
    ids = [bus.call(topic, message, context) for message in messages]
    for body in RAW_BODIES:
        bus.raw(topic, body)
    replies = bus.wait_replies(ids, timeout=120)
    missing = [m for m, r in zip(messages, replies) if r is None]
    assert not missing, f"{len(missing)} calls unanswered, e.g. {str(missing[0])[:300]}"
    codes = {}
    for message, reply in zip(messages, replies):
        code = error_code(reply)
        assert code is None or code in rpc_fuzz.DOCUMENTED_CODES, (code, str(message)[:300])
        codes[code] = codes.get(code, 0) + 1
    return codes


class Counting(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.records = []

    def emit(self, record):
        self.records.append(record)


def test_thousands_of_malformed_messages_get_documented_errors_and_a_boot_still_works(
        stack):
    scheduler_messages = rpc_fuzz.random_messages(1, SCHEDULER_TEMPLATES, MESSAGES_PER_SERVICE,
                                                  version='1.1')
    agent_messages = rpc_fuzz.random_messages(2, agent_templates(), MESSAGES_PER_SERVICE)
    log_before = (stack.workdir / 'scheduler.log').stat().st_size
    agent_log = Counting()
    logging.getLogger().addHandler(agent_log)      # the simulated agents run in this process
    bus = Bus(stack.url)
    try:
        started = time.monotonic()
        scheduler_codes = flood(bus, scheduler_rpcapi.TOPIC, scheduler_messages)
        agent_codes = flood(bus, f"{agent_rpcapi.TOPIC}.sim-0000", agent_messages,
                            context={'host': 'sim-0000'})
        elapsed = time.monotonic() - started
    finally:
        bus.close()
        logging.getLogger().removeHandler(agent_log)
    print(f"\n{2 * MESSAGES_PER_SERVICE + 4} calls answered ({2 * CASTS} casts before) in "
          f"{elapsed:.1f}s; scheduler: "
          f"{scheduler_codes}; agent: {agent_codes}")
    # Most messages are refused; some are well-formed calls that get real answers.
    assert scheduler_codes.get(rpc.INVALID_INPUT, 0) > MESSAGES_PER_SERVICE // 3
    assert agent_codes.get(rpc.INVALID_INPUT, 0) > MESSAGES_PER_SERVICE // 3
    _a_valid_boot_works(stack)
    grown = (stack.workdir / 'scheduler.log').stat().st_size - log_before
    budget_lines = 20 + 2 * elapsed + elapsed / 10 + 50     # burst + rate + summaries + slack
    assert grown < budget_lines * 600, f"scheduler log grew {grown} bytes in {elapsed:.0f}s"
    assert 'Traceback' not in (stack.workdir / 'scheduler.log').read_text()[log_before:]
    assert len(agent_log.records) < budget_lines
    assert not any(r.exc_info for r in agent_log.records)


def _a_valid_boot_works(stack):
    api = stack.api()
    for host in api.hosts()['hosts']:      # rogue reports may have added hosts (see wt-trust)
        if host['name'] not in stack.host_names:
            api.host_set_enabled(host['name'], False, 'registered by the fuzz')
    [instance] = api.boot(dict(busfleet.PINNED, name='after-the-flood'))['instances']
    final = stack.wait_settled([instance['uuid']])[instance['uuid']]
    assert final['state'] == 'ACTIVE' and final['host'] in stack.host_names, final
