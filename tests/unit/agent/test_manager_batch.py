"""build_instances (agent RPC 1.5): several builds for one host in one cast, each item
checked as untrusted input on its own, each build idempotent per instance."""

import uuid as uuidlib

import pytest
from oslo_config import cfg
from oslo_messaging.rpc.dispatcher import ExpectedException

from agent import trust
from agent.manager import AgentManager
from tests import busfleet
from tests.unit.agent import test_manager as single
from tests.unit.agent.test_manager import MALFORMED_BUILDS, _good_build, placement
from tests.unit.agent.test_manager_signing import Recorder, order
from wire import agent_rpcapi, keys, rpc, signing

# the simulated hosts of test_manager.py, on a bus of this module's own
fleet_file, agents = single.fleet_file, single.agents


def _uuids(count, tag):
    return [str(uuidlib.uuid5(uuidlib.NAMESPACE_DNS, f"batch-{tag}-{i}")) for i in range(count)]


def _domains(manager):
    return [d['uuid'] for d in manager.domains()]


def _placed(managers, uuids, host='sim-0002'):
    """Build arguments of ``uuids`` on ``host``, each placed around the ones before."""
    builds = []
    for uuid in uuids:
        spec, assignment = placement(host, busfleet.SHARED, uuid, managers)
        builds.append({'instance': uuid, 'name': 'vm', 'assignment': assignment.to_dict(),
                       'spec': spec.to_dict(), 'request': {}})
    return builds


def test_a_batch_builds_every_instance_and_reports_each(agents):
    managers, scheduler, api = agents
    uuids = _uuids(3, 'all')
    api.build_instances('sim-0002', _placed(managers, uuids))
    for uuid in uuids:
        assert scheduler.wait_update(uuid) == (uuid, 'sim-0002', 'ACTIVE', None)
    assert all(_domains(managers['sim-0002']).count(u) == 1 for u in uuids)


def test_a_batch_sent_again_makes_no_second_domain(agents):
    managers, scheduler, api = agents
    uuids = _uuids(2, 'again')
    builds = _placed(managers, uuids)
    api.build_instances('sim-0002', builds)
    for uuid in uuids:
        scheduler.wait_update(uuid)
    api.build_instances('sim-0002', builds)        # a scheduler that recovered them
    api.console_log('sim-0002', uuids[0])          # a call after the cast: it was handled
    for uuid in uuids:
        assert _domains(managers['sim-0002']).count(uuid) == 1


@pytest.mark.parametrize('change,reason', MALFORMED_BUILDS[:6],
                         ids=[r for _, r in MALFORMED_BUILDS[:6]])
def test_a_malformed_item_is_answered_error_and_holds_back_no_other(agents, change, reason):
    managers, scheduler, api = agents
    bad, good = _uuids(2, f"bad-{reason}")
    items = [dict(_good_build(bad), **change), 'not a build', {'instance': '../x'},
             *_placed(managers, [good], 'sim-0001')]
    api.client.prepare(server='sim-0001', version='1.5').cast(
        {'host': 'sim-0001'}, 'build_instances', builds=items)
    _, host, state, text = scheduler.wait_update(bad)
    assert (host, state) == ('sim-0001', 'ERROR') and reason in text
    assert scheduler.wait_update(good)[2] == 'ACTIVE'
    assert bad not in _domains(managers['sim-0001'])


def test_a_batch_beyond_the_list_bound_builds_nothing(agents):
    managers, scheduler, api = agents
    cfg.CONF.set_override('rpc_max_list_length', 1)
    try:
        uuids = _uuids(2, 'bound')
        api.build_instances('sim-0000', [_good_build(u) for u in uuids])
        with pytest.raises(rpc.BusError):        # a call after the cast: it was handled
            api.console_log('sim-0000', uuids[0])
    finally:
        cfg.CONF.clear_override('rpc_max_list_length')
    assert not set(uuids) & set(_domains(managers['sim-0000']))
    assert not [u for u in scheduler.updates if u[0] in uuids]


def test_an_agent_capped_below_1_5_gets_one_build_instance_each(agents, monkeypatch):
    cfg.CONF.set_override('agent', '1.4', group='upgrade_levels')
    try:
        capped = agent_rpcapi.AgentAPI()
    finally:
        cfg.CONF.clear_override('agent', group='upgrade_levels')
    sent = []
    monkeypatch.setattr(capped, '_cast', lambda host, method, version='1.0', **kwargs:
                        sent.append((method, version, kwargs['instance'])))
    capped.build_instances('h', [{'instance': 'a', 'name': 'n', 'assignment': {},
                                  'spec': {}}, {'instance': 'b', 'name': 'n',
                                                'assignment': {}, 'spec': {}}])
    assert sent == [('build_instance', '1.0', 'a'), ('build_instance', '1.0', 'b')]


def test_a_forged_or_misdirected_batch_builds_nothing():
    scheduler_key, recorder = keys.generate(), Recorder()
    agent = AgentManager('node-1', recorder, lambda: None, recorder)
    trust.guard([agent], signing.Verifier(keys.KeySet({'sched': scheduler_key.public_key()})))
    builds = [{'instance': 'u1', 'name': 'x', 'assignment': {}, 'spec': {}}]
    signed = order(scheduler_key, 'build_instances', 'node-1', builds=builds)
    for ctxt, sent in (({'host': 'node-1'}, builds),                          # unsigned
                       (order(keys.generate(), 'build_instances', 'node-1', builds=builds),
                        builds),                                              # a rogue key
                       (order(scheduler_key, 'build_instances', 'node-2', builds=builds),
                        builds),                                              # another host
                       (signed, builds + builds)):                            # changed
        with pytest.raises(ExpectedException):
            agent.build_instances(ctxt, builds=sent)
    assert recorder.calls == []
