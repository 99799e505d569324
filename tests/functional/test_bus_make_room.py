"""Make room on the real RabbitMQ with the real scheduler process and simulated agents:
a fleet fragmented so that a pinned request of a whole cell fits nowhere; ``boot
--make-room`` live-migrates the two guests the plan names and boots the request, the
store audited and the domains where the store says; and a plan whose second move is
refused by its destination fails the boot, the first guest ACTIVE where it landed."""

import time

import pytest

from agent.domain import domain_name
from tests import busfleet
from tests.functional.bus_stack import running_stack
from tests.functional.test_bus_moves import overruns, running_on
from wire import rpc

pytestmark = pytest.mark.rabbit

HOSTS = busfleet.fleet(3, prefix='mr', pcpus_per_cell=4, pages_2m=0, vfs_per_cell=0)
# 1 pCPU in each of two cells: two of them on a host leave no cell of 4 pCPUs whole
SPREAD = {'name': 'spread', 'vcpus': 2, 'memory_mb': 512,
          'extra_specs': {'hw:cpu_policy': 'dedicated', 'hw:numa_nodes': '2'}}
BIG = {'name': 'big', 'vcpus': 4, 'memory_mb': 1024,
       'extra_specs': {'hw:cpu_policy': 'dedicated', 'hw:numa_nodes': '1'}}


@pytest.fixture(scope='module')
def stack(rabbit_url, tmp_path_factory):
    # Ties by name: the refused-move test sabotages the destination explain's plan
    # names, so boot must plan the same moves (with equal hosts shuffled, a plan among
    # equals may differ from one decision to the next).
    with running_stack(tmp_path_factory.mktemp('make-room'), HOSTS, report_interval=1,
                       down_time=5, hosts_per_connection=1,
                       extra_config='[filter_scheduler]\n'
                                    'shuffle_best_same_weighed_hosts = false\n') as stack:
        yield stack


@pytest.fixture
def fragmented(stack):
    """Every host holds two SPREAD guests (ACTIVE), nothing else; BIG fits nowhere."""
    api = stack.api(timeout=60)
    left = [i['uuid'] for i in api.list()['instances']]
    for uuid in left:
        api.delete(uuid)
    deadline = time.monotonic() + 30
    while api.list()['instances'] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert api.list()['instances'] == []
    uuids = []
    for host in stack.host_names:
        others = [h for h in stack.host_names if h != host]
        for name in others:
            api.host_set_enabled(name, False, 'test placement')
        try:
            uuids += [api.boot(dict(SPREAD, name=f"{host}-{i}"))['instances'][0]['uuid']
                      for i in range(2)]
        finally:
            for name in others:
                api.host_set_enabled(name, True)
    settled = stack.wait_settled(uuids)
    assert [s['state'] for s in settled.values()] == ['ACTIVE'] * 6
    assert api.explain(BIG)['assignments'] == []
    return api


def test_boot_make_room_moves_two_guests_live_and_boots_the_request(stack, fragmented):
    api = fragmented
    room = api.explain(BIG, make_room=True)['make_room']
    assert room['found'] and len(room['moves']) == 2, room
    target = room['target']
    [booted] = api.boot(dict(BIG, name='big-1'), make_room=True)['instances']
    assert (booted['state'], booted['host']) == ('BUILDING', target)
    settled = stack.wait_settled([booted['uuid']] + [m['instance'] for m in room['moves']])
    assert (settled[booted['uuid']]['state'], settled[booted['uuid']]['host']) == (
        'ACTIVE', target)
    for move in room['moves']:
        record = settled[move['instance']]
        assert (record['state'], record['host']) == ('ACTIVE', move['destination'])
        assert api.show(move['instance'])['assignment'] == move['assignment']   # as planned
        assert running_on(stack, move['instance']) == [move['destination']]
        [migration] = api.migrations(instance=move['instance'])['migrations']
        assert (migration['kind'], migration['status']) == ('live', 'done')
    assert running_on(stack, booted['uuid']) == [target]
    assert overruns(stack) == []


def test_a_refused_move_fails_the_boot_and_the_moved_guest_stays_active(stack, fragmented):
    api = fragmented
    room = api.explain(BIG, make_room=True)['make_room']
    first, second = room['moves']
    # A leftover domain with the second guest's name on its destination: prepare refuses.
    dest = stack.manager(second['destination']).driver.conn
    dest.define_domain(f"<domain type='test'><name>{domain_name(second['instance'])}</name>"
                       "<memory>1024</memory><os><type>hvm</type></os></domain>")
    try:
        with pytest.raises(rpc.BusError) as caught:
            api.boot(dict(BIG, name='big-2'), make_room=True)
    finally:
        dest.undefine_domain(domain_name(second['instance']))
    assert caught.value.code == rpc.OPERATION_FAILED
    assert 'ALREADY_EXISTS' in caught.value.message, caught.value.message
    assert [m['instance'] for m in caught.value.details['moved']] == [first['instance']]
    settled = stack.wait_settled([first['instance'], second['instance']])
    assert (settled[first['instance']]['state'], settled[first['instance']]['host']) == (
        'ACTIVE', first['destination'])
    assert (settled[second['instance']]['state'], settled[second['instance']]['host']) == (
        'ACTIVE', second['source'])
    assert running_on(stack, first['instance']) == [first['destination']]
    assert running_on(stack, second['instance']) == [second['source']]
    assert [i for i in api.list()['instances'] if i['name'] == 'big-2'] == []
    assert overruns(stack) == []
