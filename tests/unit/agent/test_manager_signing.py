"""The agent with a verifier: an order counts only when a trusted scheduler signed it for
this host; otherwise nothing is built, deleted or powered, and no result is sent."""

import types

import pytest
from oslo_messaging.rpc.dispatcher import ExpectedException

from agent import trust
from agent.manager import AgentManager
from wire import agent_rpcapi, keys, signing


class Recorder:
    """Driver and scheduler client in one: every call is kept."""

    def __init__(self):
        self.calls = []
        self.config = types.SimpleNamespace(images_path='/nonexistent')

    def __getattr__(self, name):
        return lambda *args, **kwargs: self.calls.append((name, args))


@pytest.fixture
def scheduler_key():
    return keys.generate()


@pytest.fixture
def manager(scheduler_key):
    recorder = Recorder()
    manager = AgentManager('node-1', recorder, lambda: None, recorder)
    trust.guard([manager], signing.Verifier(keys.KeySet({'sched': scheduler_key.public_key()})))
    return manager, recorder


def order(key, method, host, **kwargs):
    return signing.Signer(key, name='sched').context(method, host, kwargs, base={'host': host})


@pytest.mark.parametrize('method', ['delete_instance', 'stop', 'start', 'reboot',
                                    'console_log'])
def test_unsigned_foreign_or_misdirected_orders_do_nothing(manager, scheduler_key, method):
    agent, recorder = manager
    contexts = [{'host': 'node-1'},                                       # unsigned
                order(keys.generate(), method, 'node-1', instance='u1'),  # a rogue key
                order(scheduler_key, method, 'node-2', instance='u1')]    # for another host
    for ctxt in contexts:
        with pytest.raises(ExpectedException):
            getattr(agent, method)(ctxt, instance='u1')
    assert recorder.calls == []


def test_a_forged_build_builds_nothing_and_reports_nothing(manager):
    agent, recorder = manager
    with pytest.raises(ExpectedException):
        agent.build_instance({'host': 'node-1'}, instance='u1', name='x', assignment={},
                             spec={})
    assert recorder.calls == []


def test_a_signed_order_for_this_host_is_obeyed(manager, scheduler_key):
    agent, recorder = manager
    agent.delete_instance(order(scheduler_key, 'delete_instance', 'node-1', instance='u1'),
                          instance='u1')
    assert [name for name, _ in recorder.calls] == ['delete', 'instance_update']


def test_report_now_is_obeyed_only_signed_for_every_host(manager, scheduler_key):
    agent, _ = manager
    for ctxt in ({}, order(keys.generate(), 'report_now', agent_rpcapi.EVERY_HOST),
                 order(scheduler_key, 'report_now', 'node-1')):     # not a fanout's
        with pytest.raises(ExpectedException):
            agent.report_now(ctxt)
    assert agent.last_report == 0.0
    agent.report_now(order(scheduler_key, 'report_now', agent_rpcapi.EVERY_HOST))
    assert agent.report_due(1.0, interval=60, min_interval=1, on_change=False)
