"""[upgrade_levels]: validated version caps; a capped agent talks to a 1.0 scheduler.

The last tests run a real oslo.messaging RPC server, on the in-process bus
(kombu+memory) and on the real RabbitMQ, whose endpoint implements scheduler
API 1.0 only, as a scheduler of the previous release does.
"""

import logging
import threading
import time

import oslo_messaging as messaging
import pytest
from oslo_config import cfg

from agent.updates import BatchingSchedulerAPI
from wire import agent_rpcapi, ratelimit, rpc, scheduler_rpcapi, upgrade_levels

UPDATES = [
    {'instance': 'u1', 'host': 'h1', 'state': 'ACTIVE', 'reason': None},
    {'instance': 'u2', 'host': 'h2', 'state': 'ERROR', 'reason': 'launch timed out'},
    {'instance': 'u1', 'host': 'h1', 'state': 'DELETED', 'reason': None},
]


@pytest.fixture
def bus():
    cfg.CONF.set_override('transport_url', 'kombu+memory:////')
    yield
    rpc.reset_transports()
    cfg.CONF.clear_override('transport_url')


@pytest.fixture(params=['memory', pytest.param('rabbitmq', marks=pytest.mark.rabbit)])
def any_bus(request, tmp_path):
    """The in-process bus, and a private vhost of the real RabbitMQ."""
    if request.param == 'memory':
        yield request.getfixturevalue('bus')
        return
    request.getfixturevalue('rabbit_url')      # fails in CI, skips elsewhere, if it is down
    from tests.functional.bus_stack import Stack
    stack = Stack(tmp_path, [])
    stack.create_vhost()                       # sets transport_url to the vhost
    yield
    stack.close()


@pytest.fixture
def levels():
    """Set ``[upgrade_levels] <api>`` for one test."""
    set_apis = []

    def set_level(api, value):
        cfg.CONF.set_override(api, value, group='upgrade_levels')
        set_apis.append(api)
    yield set_level
    for api in set_apis:
        cfg.CONF.clear_override(api, group='upgrade_levels')


def capped_scheduler_api(levels, cap):
    levels('scheduler', cap)
    return scheduler_rpcapi.SchedulerAPI(timeout=10)


# -- the options -----------------------------------------------------------

@pytest.mark.parametrize('value', [None, ''])
def test_unset_or_empty_means_no_cap(bus, levels, value):
    levels('scheduler', value)
    levels('agent', value)
    scheduler = scheduler_rpcapi.SchedulerAPI()
    assert scheduler.client.version_cap is None
    assert scheduler.client.can_send_version('1.1')
    assert agent_rpcapi.AgentAPI().client.version_cap is None


@pytest.mark.parametrize('api_class, api, value', [
    (scheduler_rpcapi.SchedulerAPI, 'scheduler', '1.0'),
    (scheduler_rpcapi.SchedulerAPI, 'scheduler', '1.1'),
    (scheduler_rpcapi.SchedulerAPI, 'scheduler', '1.2'),
    (scheduler_rpcapi.SchedulerAPI, 'scheduler', '1.3'),
    (scheduler_rpcapi.SchedulerAPI, 'scheduler', '1.4'),
    (scheduler_rpcapi.SchedulerAPI, 'scheduler', '1.5'),
    (scheduler_rpcapi.SchedulerAPI, 'scheduler', '1.6'),
    (scheduler_rpcapi.SchedulerAPI, 'scheduler', '1.7'),
    (scheduler_rpcapi.SchedulerAPI, 'scheduler', '1.8'),
    (agent_rpcapi.AgentAPI, 'agent', '1.0'),
    (agent_rpcapi.AgentAPI, 'agent', '1.1'),
    (agent_rpcapi.AgentAPI, 'agent', '1.2'),
    (agent_rpcapi.AgentAPI, 'agent', '1.3'),
    (agent_rpcapi.AgentAPI, 'agent', '1.4'),
    (agent_rpcapi.AgentAPI, 'agent', '1.5'),
])
def test_a_version_this_release_speaks_caps_the_client(bus, levels, api_class, api, value):
    levels(api, value)
    assert api_class().client.version_cap == value


def test_a_cap_is_logged_when_the_client_is_made(bus, levels, caplog):
    levels('scheduler', '1.0')
    with caplog.at_level(logging.INFO, logger='wire.upgrade_levels'):
        scheduler_rpcapi.SchedulerAPI()
    assert 'scheduler RPC API capped at version 1.0 by [upgrade_levels] scheduler' \
        in caplog.text


@pytest.mark.parametrize('api_class, api, value, rule', [
    (scheduler_rpcapi.SchedulerAPI, 'scheduler', 'latest', 'must be a version of the form N.M'),
    (scheduler_rpcapi.SchedulerAPI, 'scheduler', '1', 'must be a version of the form N.M'),
    (scheduler_rpcapi.SchedulerAPI, 'scheduler', '1.0.1', 'must be a version of the form N.M'),
    (scheduler_rpcapi.SchedulerAPI, 'scheduler', 'v1.0', 'must be a version of the form N.M'),
    (scheduler_rpcapi.SchedulerAPI, 'scheduler', '1.9', 'must not be newer than 1.8'),
    (scheduler_rpcapi.SchedulerAPI, 'scheduler', '2.0', 'must not be newer than 1.8'),
    (scheduler_rpcapi.SchedulerAPI, 'scheduler', '0.9', 'must be a 1.x version'),
    (agent_rpcapi.AgentAPI, 'agent', '1.6', 'must not be newer than 1.5'),
    (agent_rpcapi.AgentAPI, 'agent', 'kilo', 'must be a version of the form N.M'),
])
def test_a_bad_level_fails_at_client_creation_naming_option_and_rule(bus, levels, api_class,
                                                                      api, value, rule):
    levels(api, value)
    with pytest.raises(upgrade_levels.InvalidUpgradeLevel) as caught:
        api_class()
    assert str(caught.value).startswith(f"[upgrade_levels] {api} = {value!r}: {rule}")
    assert caught.value.field == f"[upgrade_levels] {api}"
    # the agent's start-up reports ValueError, the CLI's configuration step cfg.Error
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, cfg.Error)


# -- what goes on the wire -------------------------------------------------

def record_sends(monkeypatch, api):
    """Every message the client hands to the transport: (method, version, args, reply?)."""
    sent = []

    def send(target, ctxt, message, wait_for_reply=None, **kwargs):
        sent.append((message['method'], message['version'], message['args'],
                     bool(wait_for_reply)))
    monkeypatch.setattr(api.client.transport, '_send', send)
    return sent


def test_capped_at_1_0_a_batch_leaves_as_ordered_instance_update_casts(bus, levels,
                                                                       monkeypatch):
    api = capped_scheduler_api(levels, '1.0')
    sent = record_sends(monkeypatch, api)
    api.instance_updates(UPDATES)
    assert sent == [('instance_update', '1.0', update, False) for update in UPDATES]


def test_uncapped_a_batch_leaves_as_one_instance_updates_cast(bus, levels, monkeypatch):
    api = capped_scheduler_api(levels, None)
    sent = record_sends(monkeypatch, api)
    api.instance_updates(UPDATES)
    assert sent == [('instance_updates', '1.1', {'updates': UPDATES}, False)]


def test_a_capped_client_refuses_to_send_anything_newer(bus, levels, monkeypatch):
    api = capped_scheduler_api(levels, '1.0')
    sent = record_sends(monkeypatch, api)
    with pytest.raises(messaging.RPCVersionCapError):
        api.client.prepare(version='1.1').cast({}, 'instance_updates', updates=UPDATES)
    assert sent == []


def test_capped_below_1_4_host_detail_is_refused_before_anything_is_sent(bus, levels,
                                                                         monkeypatch):
    api = capped_scheduler_api(levels, '1.3')
    sent = record_sends(monkeypatch, api)
    with pytest.raises(rpc.BusError) as caught:
        api.host_detail('compute-1')
    assert caught.value.code == rpc.OPERATION_FAILED and sent == []
    assert 'host_detail needs RPC API 1.4' in caught.value.message


def test_make_room_is_sent_as_1_7_only_when_asked_and_refused_capped_below(bus, levels,
                                                                         monkeypatch):
    api = capped_scheduler_api(levels, '1.6')
    sent = record_sends(monkeypatch, api)
    for call in (lambda: api.explain({'name': 'x'}, make_room=True),
                 lambda: api.boot({'name': 'x'}, make_room=True)):
        with pytest.raises(rpc.BusError) as caught:
            call()
        assert caught.value.code == rpc.OPERATION_FAILED and sent == []
    assert 'needs RPC API 1.7' in caught.value.message


def test_a_report_carries_its_listing_age_as_1_8_and_capped_below_is_the_1_0_report(
        bus, levels, monkeypatch):
    host = {'name': 'compute-1'}
    for cap, expected in (('1.7', ('report_host', '1.0', {'host': host, 'instances': []},
                                   False)),
                          (None, ('report_host', '1.8', {'host': host, 'instances': [],
                                                         'listing_age': 5.0}, False))):
        api = capped_scheduler_api(levels, cap)
        sent = record_sends(monkeypatch, api)
        monkeypatch.setattr(scheduler_rpcapi.time, 'monotonic', lambda: 105.0)
        api.report_host(host, [], listed=100.0)
        assert sent == [expected]
    sent.clear()
    api.report_host(host, [])                 # no listing time: the 1.0 report
    assert sent == [('report_host', '1.0', {'host': host, 'instances': []}, False)]


def test_report_now_is_a_1_2_fanout_and_not_sent_capped_below(bus, levels, monkeypatch):
    levels('agent', '1.1')
    capped = agent_rpcapi.AgentAPI()
    sent = record_sends(monkeypatch, capped)
    assert capped.report_now() is False and sent == []
    levels('agent', None)
    api = agent_rpcapi.AgentAPI()
    targets = []
    monkeypatch.setattr(api.client.transport, '_send',
                        lambda target, ctxt, message, **kwargs: targets.append(
                            (target.fanout, message['method'], message['version'])))
    assert api.report_now() is True
    assert targets == [(True, 'report_now', '1.2')]


# -- against a scheduler of the previous release ---------------------------

class OldScheduler:
    """Endpoints of a 1.0 scheduler.  instance_updates exists only to show that the
    version check, not a missing method, is what refuses a 1.1 message."""

    target = messaging.Target(version='1.0')

    def __init__(self):
        self.updates, self.batches = [], []
        self.changed = threading.Condition()

    @rpc.endpoint
    def instance_update(self, ctxt, instance, host, state, reason=None):
        with self.changed:
            self.updates.append({'instance': instance, 'host': host, 'state': state,
                                 'reason': reason})
            self.changed.notify_all()

    @rpc.endpoint
    def instance_updates(self, ctxt, updates):
        self.batches.append(updates)

    def wait_for(self, count, timeout=10):
        deadline = time.monotonic() + timeout
        with self.changed:
            while len(self.updates) < count:
                if not self.changed.wait(max(0.0, deadline - time.monotonic())):
                    raise AssertionError(f"{len(self.updates)} of {count} updates arrived")
        return list(self.updates)


@pytest.fixture
def old_scheduler(any_bus):
    endpoint = OldScheduler()
    server = rpc.get_rpc_server(scheduler_rpcapi.TOPIC, 'old-scheduler', [endpoint])
    server.start(override_pool_size=1)     # one worker: messages handled in arrival order
    yield endpoint
    server.stop()
    server.wait()


def test_a_1_0_scheduler_receives_a_capped_clients_batch_in_order(old_scheduler, levels):
    capped_scheduler_api(levels, '1.0').instance_updates(UPDATES)
    assert old_scheduler.wait_for(len(UPDATES)) == UPDATES
    assert old_scheduler.batches == []


def test_a_1_0_scheduler_refuses_an_uncapped_batch(old_scheduler, levels, caplog):
    api = capped_scheduler_api(levels, None)
    marker = {'instance': 'marker', 'host': 'h9', 'state': 'ACTIVE', 'reason': None}
    ratelimit.reset()
    with caplog.at_level(logging.WARNING):
        api.instance_updates(UPDATES)
        api.instance_update(**marker)      # 1.0: handled after the batch by the one worker
        assert old_scheduler.wait_for(1) == [marker]
    assert old_scheduler.batches == []
    # Refused before oslo.messaging's dispatcher: one line, no traceback.
    refused = [r for r in caplog.records if 'UnsupportedVersion: version 1.1' in r.getMessage()]
    assert len(refused) == 1, caplog.text
    assert not any(r.exc_info for r in caplog.records), caplog.text


def test_a_batching_agent_capped_at_1_0_reaches_a_1_0_scheduler(old_scheduler, levels):
    batching = BatchingSchedulerAPI(capped_scheduler_api(levels, '1.0'), linger=0.05)
    for update in UPDATES:
        batching.instance_update(**update)
    assert batching.flush(10)
    batching.close()
    assert old_scheduler.wait_for(len(UPDATES)) == UPDATES
    assert old_scheduler.batches == []


def test_moves_are_refused_by_clients_capped_below_them(bus, levels):
    levels('scheduler', '1.4')
    with pytest.raises(rpc.BusError, match='migrate needs RPC API 1.5'):
        scheduler_rpcapi.SchedulerAPI().migrate('vm', live=True)
    levels('agent', '1.2')
    with pytest.raises(rpc.BusError, match='prepare_migration needs RPC API 1.3'):
        agent_rpcapi.AgentAPI().prepare_migration('h', 'm', 'i', 'vm', {}, {})


def test_resize_is_refused_by_clients_capped_below_it(bus, levels):
    levels('scheduler', '1.5')
    with pytest.raises(rpc.BusError, match='resize needs RPC API 1.6'):
        scheduler_rpcapi.SchedulerAPI().resize('vm', {'vcpus': 2})
    with pytest.raises(rpc.BusError, match='resize_confirm needs RPC API 1.6'):
        scheduler_rpcapi.SchedulerAPI().resize_confirm('vm')
    levels('agent', '1.3')
    with pytest.raises(rpc.BusError, match='migrate_instance needs RPC API 1.4'):
        agent_rpcapi.AgentAPI().migrate_instance('h', 'm', 'i', 'd', 'uri', '<x/>',
                                                 live=False, keep_source=True)
