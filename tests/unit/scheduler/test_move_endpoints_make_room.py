"""Make room (scheduler.room_endpoints: explain/boot with make_room, RPC 1.7) with the
move tests' recording agents: the plan answered by explain changes nothing, boot runs
its live migrations then boots, a failed move fails the boot with the moved guest
ACTIVE where it landed, and no plan is NoValidHost with nothing changed."""

import pytest

from scheduler.store import ACTIVE, BUILDING, STOPPED, models
from tests import busfleet
from tests.unit.scheduler import test_move_endpoints as moves_base
from tests.unit.scheduler.test_manager import add_hosts, reply
from tests.unit.scheduler.test_move_endpoints import call, overruns
from wire import rpc

# the fixtures of the move tests
bus, shared_store, moving = moves_base.bus, moves_base.shared_store, moves_base.moving
# A guest with 1 pCPU in each of two cells: two of them leave no cell of 4 pCPUs whole
SPREAD = {'name': 'spread', 'vcpus': 2, 'memory_mb': 1024,
          'extra_specs': {'hw:cpu_policy': 'dedicated', 'hw:numa_nodes': '2'}}
# 4 pCPUs in one cell: a whole cell of the hosts below
BIG = {'name': 'big', 'vcpus': 4, 'memory_mb': 2048,
       'extra_specs': {'hw:cpu_policy': 'dedicated', 'hw:numa_nodes': '1'}}
HOSTS = ('host-0000', 'host-0001')


def active_on(world, host, request, name):
    """An ACTIVE instance of ``request`` on ``host`` (the others disabled meanwhile)."""
    others = [h for h in HOSTS if h != host]
    for other in others:
        call(world.manager, 'host_set_enabled', host=other, enabled=False)
    uuid = world.client.boot(dict(request, name=name))['instances'][0]['uuid']
    for other in others:
        call(world.manager, 'host_set_enabled', host=other, enabled=True)
    reply(world, uuid, ACTIVE)
    assert world.store.get_instance(uuid).host == host
    return uuid


def fragmented(world):
    """Two hosts of 2 cells x 4 pCPUs, each holding two SPREAD guests: 2 pCPUs free in
    every cell, BIG fits nowhere; moving both guests off one host makes room."""
    add_hosts(world, 2, pcpus_per_cell=4)
    return {host: [active_on(world, host, SPREAD, f"{host}-{i}") for i in range(2)]
            for host in HOSTS}


def test_explain_answers_the_plan_and_changes_nothing(moving):
    guests = fragmented(moving)
    before = sorted(moving.store.held_resources())
    answer = call(moving.manager, 'explain', request=BIG, make_room=True)
    assert answer['assignments'] == []
    room = answer['make_room']
    assert room['found'] and len(room['moves']) == 2
    target = room['target']
    assert {m['instance'] for m in room['moves']} == set(guests[target])
    assert all(m['source'] == target and m['destination'] != target and
               m['assignment']['host'] == m['destination'] for m in room['moves'])
    assert [a['host'] for a in room['assignments']] == [target]
    assert sorted(moving.store.held_resources()) == before
    assert moving.store.list_migrations() == []
    assert 'make_room' not in call(moving.manager, 'explain', request=BIG)


def test_boot_runs_the_moves_then_boots_the_request(moving):
    guests = fragmented(moving)
    plan = call(moving.manager, 'explain', request=BIG, make_room=True)['make_room']
    answer = call(moving.manager, 'boot', request=BIG, make_room=True)
    [instance] = answer['instances']
    assert (instance['state'], instance['host']) == (BUILDING, plan['target'])
    for move in plan['moves']:
        record = moving.store.get_instance(move['instance'])
        assert (record.state, record.host, record.task) == (ACTIVE, move['destination'], None)
        [migration] = moving.store.list_migrations(instance=move['instance'])
        assert (migration.kind, migration.status) == (models.LIVE, models.DONE)
    other = next(h for h in HOSTS if h != plan['target'])
    assert {moving.store.get_instance(u).host for u in guests[plan['target']]} == {other}
    assert overruns(moving) == []
    assert moving.events.count('instance.live_migration.end') == 2
    [(host, uuid, _)] = [b[1:] for b in moving.agents.builds() if b[2] == instance['uuid']]
    assert host == plan['target']


def test_a_failed_move_fails_the_boot_and_the_moved_guest_stays_where_it_landed(moving):
    fragmented(moving)
    plan = call(moving.manager, 'explain', request=BIG, make_room=True)['make_room']
    first, second = plan['moves']
    prepare = moving.agents.prepare_migration

    def refuse_the_second(host, migration, instance, *args, **kwargs):
        if instance == second['instance']:
            return {'ok': False, 'reason': 'ALREADY_EXISTS: a leftover domain'}
        return prepare(host, migration, instance, *args, **kwargs)
    moving.agents.prepare_migration = refuse_the_second
    before = {r.uuid for r in moving.store.list_instances()}
    with pytest.raises(rpc.BusError) as caught:
        call(moving.manager, 'boot', request=BIG, make_room=True)
    assert caught.value.code == rpc.OPERATION_FAILED
    assert 'ALREADY_EXISTS' in caught.value.message and 'nothing booted' in caught.value.message
    assert caught.value.details['moved'] == [
        {k: first[k] for k in ('instance', 'source', 'destination')}]
    assert set(caught.value.details['failed']) == {second['instance']}
    moved = moving.store.get_instance(first['instance'])
    assert (moved.state, moved.host) == (ACTIVE, first['destination'])
    kept = moving.store.get_instance(second['instance'])
    assert (kept.state, kept.host, kept.task) == (ACTIVE, second['source'], None)
    assert {r.uuid for r in moving.store.list_instances()} == before    # nothing booted
    assert overruns(moving) == []


def test_no_plan_is_no_valid_host_and_changes_nothing(moving):
    fragmented(moving)
    for uuid in [r.uuid for r in moving.store.list_instances()]:
        reply(moving, uuid, STOPPED)           # a stopped guest is not moved live
    before = sorted(moving.store.held_resources())
    with pytest.raises(rpc.BusError) as caught:
        call(moving.manager, 'boot', request=BIG, make_room=True)
    assert caught.value.code == rpc.NO_VALID_HOST
    assert 'make room: no set of at most 3 live migration(s)' in caught.value.message
    assert caught.value.details['make_room']['found'] is False
    assert sorted(moving.store.held_resources()) == before
    assert moving.store.list_migrations() == []
    assert all(r.state == STOPPED for r in moving.store.list_instances())


def test_a_request_that_fits_boots_without_a_move(moving):
    add_hosts(moving, 2, pcpus_per_cell=4)
    answer = call(moving.manager, 'boot', request=BIG, make_room=True)
    assert [i['state'] for i in answer['instances']] == [BUILDING]
    assert moving.store.list_migrations() == []
    room = call(moving.manager, 'explain', request=BIG, make_room=True)['make_room']
    assert room['found'] and room['moves'] == [] and len(room['assignments']) == 1


@pytest.mark.parametrize('method', ['boot', 'explain'])
def test_make_room_must_be_a_boolean(moving, method):
    add_hosts(moving, 1)
    with pytest.raises(rpc.BusError) as caught:
        call(moving.manager, method, request=busfleet.PINNED, make_room='yes')
    assert caught.value.code == rpc.INVALID_INPUT
    assert caught.value.details['errors'] == [{'field': 'make_room',
                                               'rule': 'expected bool, got str'}]
    assert moving.store.list_instances() == []
