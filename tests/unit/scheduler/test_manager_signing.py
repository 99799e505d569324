"""The scheduler with a verifier: host messages count only when signed by their host.

On the in-memory bus, through the real endpoints: the refusal comes back as
Forbidden (a call, so the test can read it; agents cast) and nothing changes.
"""

import pytest

from scheduler.store import ACTIVE, BUILDING
from tests import busfleet
from tests.unit.scheduler.test_manager import (  # noqa: F401  (fixtures)
    add_hosts,
    bus,
    postgres_schema,
    world,
)
from wire import keys, rpc, scheduler_rpcapi, signing


def guard(world, key):  # noqa: F811
    """From now on the manager checks host messages against ``key`` (both hosts')."""
    world.manager.verifier = signing.Verifier(keys.KeySet({'host-0000': key.public_key(),
                                                           'host-0001': key.public_key()}))


def call(method, ctxt, **kwargs):
    """A synchronous form of the agent's cast, to read the answer."""
    client = rpc.get_rpc_client(scheduler_rpcapi.TOPIC, '1.1', timeout=10)
    return client.prepare(version='1.1').call(ctxt, method, **kwargs)


def signed_call(key, method, host_name, **kwargs):
    ctxt = signing.Signer(key).context(method, scheduler_rpcapi.TOPIC, kwargs, host_name)
    return call(method, ctxt, **kwargs)


def forbidden(method, ctxt, **kwargs):
    with pytest.raises(rpc.BusError) as caught:
        call(method, ctxt, **kwargs)
    assert caught.value.code == signing.FORBIDDEN
    return caught.value.message


def test_only_a_report_signed_by_its_host_registers_it(world):  # noqa: F811
    host_key = keys.generate()
    guard(world, host_key)
    host = busfleet.host('host-0000')
    assert 'unsigned message' in forbidden('report_host', {}, host=host, instances=[])
    rogue = signing.Signer(keys.generate()).context('report_host', scheduler_rpcapi.TOPIC,
                                                    {'host': host, 'instances': []},
                                                    'host-0000')
    assert 'bad signature' in forbidden('report_host', rogue, host=host, instances=[])
    assert world.store.list_hosts() == []
    signed_call(host_key, 'report_host', 'host-0000', host=host, instances=[])
    assert [h.name for h in world.store.list_hosts()] == ['host-0000']


def test_a_forged_result_changes_no_instance(world):  # noqa: F811
    add_hosts(world)
    host_key = keys.generate()
    guard(world, host_key)
    [booted] = world.client.boot(busfleet.PINNED)['instances']
    uuid, host = booted['uuid'], booted['host']
    assert 'unsigned' in forbidden('instance_update', {}, instance=uuid, host=host,
                                   state='DELETED')
    other = 'host-0001' if host == 'host-0000' else 'host-0000'
    items = [{'instance': uuid, 'host': host, 'state': 'DELETED'},
             {'instance': uuid, 'host': other, 'state': 'ERROR'}]
    assert f"unsigned message for hosts {host!r} and 1 more" in forbidden(
        'instance_updates', {}, updates=items)
    assert world.store.get_instance(uuid).state == BUILDING
    assert len(world.store.all_allocations()) == 1
    signed_call(host_key, 'instance_updates', host, updates=[dict(items[0], state=ACTIVE)])
    assert world.store.get_instance(uuid).state == ACTIVE


def test_the_agent_client_signs_a_batch_of_several_hosts_once():
    sent = []

    class Client:
        def can_send_version(self, version):
            return True

        def prepare(self, version):
            class Prepared:
                @staticmethod
                def cast(ctxt, method, **kwargs):
                    sent.append((ctxt[signing.ENVELOPE_KEY]['signer'], kwargs['updates']))
            return Prepared

    api = scheduler_rpcapi.SchedulerAPI.__new__(scheduler_rpcapi.SchedulerAPI)
    api.client, api.signer = Client(), signing.Signer(keys.generate())
    updates = [{'instance': f"u{i}", 'host': f"h{i % 2}", 'state': ACTIVE} for i in range(5)]
    api.instance_updates(updates)
    assert sent == [('h0', updates)]
