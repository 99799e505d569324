"""A rogue publisher on the real RabbitMQ: without a host's key it changes no host, no
instance and no claim, and without the scheduler's key it makes no agent act.

The stack signs as in production (tests/functional/bus_stack.py provisions and
enrols the keys).  The rogue holds the broker credentials (anyone on the bus) and
either no key or a key of its own.
"""

import logging
import time

import pytest

from tests import busfleet
from tests.functional.bus_stack import running_stack
from wire import agent_rpcapi, keys, rpc, scheduler_rpcapi, signing

pytestmark = pytest.mark.rabbit

HOSTS = ('trust-0000', 'trust-0001')


@pytest.fixture(scope='module')
def stack(rabbit_url, tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp('trust'),
                       busfleet.fleet(2, prefix='trust')) as stack:
        yield stack


@pytest.fixture(scope='module')
def victim(stack):
    """One ACTIVE pinned instance: what the rogue tries to take down."""
    answer = stack.api().boot(busfleet.request(busfleet.PINNED, name='victim'))
    uuid = answer['instances'][0]['uuid']
    assert stack.wait_settled([uuid])[uuid]['state'] == 'ACTIVE'
    return uuid


def rogue_signers():
    """(description, Signer or None): no key at all, and a key nobody enrolled."""
    return [('unsigned', None), ('own key', signing.Signer(keys.generate(), name='scheduler'))]


def scheduler_log_rejections(stack, needle, count, timeout=20):
    """Wait until the scheduler's log holds ``count`` lines with ``needle``; the lines."""
    deadline, lines = time.monotonic() + timeout, []
    while time.monotonic() < deadline:
        text = (stack.workdir / 'scheduler.log').read_text(errors='replace')
        lines = [line for line in text.splitlines() if needle in line]
        if len(lines) >= count:
            return lines
        time.sleep(0.2)
    raise AssertionError(f"{len(lines)} of {count} log lines with {needle!r}")


def snapshot(stack):
    api = stack.api()
    hosts = {h['name']: h for h in api.hosts()['hosts']}
    for host in hosts.values():
        host.pop('last_report', None)
        host.pop('age_s', None)
    return hosts, {i['uuid']: i['state'] for i in api.list()['instances']}


def test_a_rogue_cannot_report_update_or_delete_for_a_host(stack, victim):
    before_hosts, before_instances = snapshot(stack)
    record = stack.api().show(victim)
    host = record['host']
    topology = stack.manager(host).topology().to_dict()
    sent = 0
    for _, signer in rogue_signers():
        api = scheduler_rpcapi.SchedulerAPI(signer=signer)
        api.report_host(topology, [])                            # "nothing runs here"
        api.report_host(dict(topology, name='rogue-host'), [])   # a host nobody serves
        api.instance_update(victim, host, 'DELETED')
        api.instance_updates([{'instance': victim, 'host': host, 'state': 'ERROR',
                               'reason': 'forged'}])
        sent += 4
    lines = scheduler_log_rejections(stack, 'rejected: Forbidden', sent)
    assert any(f"unsigned message for host '{host}'" in line for line in lines)
    assert any(f"bad signature for '{host}'" in line for line in lines)
    assert any("no key enrolled for 'rogue-host'" in line for line in lines)
    after_hosts, after_instances = snapshot(stack)
    assert 'rogue-host' not in after_hosts
    assert after_instances == before_instances and after_instances[victim] == 'ACTIVE'
    assert {n: h['cells'] for n, h in after_hosts.items()} == \
        {n: h['cells'] for n, h in before_hosts.items()}     # no claim freed


def test_a_rogue_cannot_make_an_agent_build_delete_or_stop(stack, victim, caplog):
    host = stack.api().show(victim)['host']
    manager = stack.manager(host)
    domains_before = sorted(d[0] for d in manager.driver.conn.list_domains())
    assignment = stack.api().show(victim)['assignment']
    with caplog.at_level(logging.WARNING):
        for _, signer in rogue_signers():
            agents = agent_rpcapi.AgentAPI(signer=signer)
            agents.build_instance(host, 'f0f0f0f0-0000-4000-8000-000000000001', 'nobody',
                                  dict(assignment, instance='f0f0f0f0-0000-4000-8000-'
                                                            '000000000001'), {})
            agents.delete_instance(host, victim)
            agents.stop(host, victim)
        deadline = time.monotonic() + 20
        while caplog.text.count('rejected: Forbidden') < 6 and time.monotonic() < deadline:
            time.sleep(0.2)
    assert caplog.text.count('rejected: Forbidden') == 6, caplog.text[-2000:]
    assert 'build_instance: unsigned message' in caplog.text
    assert "delete_instance: bad signature for 'scheduler'" in caplog.text
    assert sorted(d[0] for d in manager.driver.conn.list_domains()) == domains_before
    assert stack.api().show(victim)['state'] == 'ACTIVE'


def test_a_replayed_signed_report_is_refused(stack):
    host = HOSTS[1]
    signer = signing.Signer(keys.load_private_key(stack.keys['agent_private_key']))
    topology = stack.manager(host).topology().to_dict()
    args = {'host': topology, 'instances': stack.manager(host).domains()}
    ctxt = signer.context('report_host', scheduler_rpcapi.TOPIC, args, host)
    client = rpc.get_rpc_client(scheduler_rpcapi.TOPIC, '1.0')
    client.cast(ctxt, 'report_host', **args)
    client.cast(ctxt, 'report_host', **args)
    lines = scheduler_log_rejections(stack, f"replayed (nonce already seen) from '{host}'", 1)
    assert len(lines) == 1


def test_the_signed_stack_still_boots_and_deletes(stack):
    api = stack.api()
    uuid = api.boot(busfleet.request(busfleet.HUGE, name='after-rogue'))['instances'][0]['uuid']
    assert stack.wait_settled([uuid])[uuid]['state'] == 'ACTIVE'
    api.delete(uuid)
    deadline = time.monotonic() + 20
    while api.show(uuid)['state'] != 'DELETED' and time.monotonic() < deadline:
        time.sleep(0.2)
    assert api.show(uuid)['state'] == 'DELETED'
