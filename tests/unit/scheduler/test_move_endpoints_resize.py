"""Resize (scheduler.move_endpoints resize/resize_confirm/resize_revert, mover) with
recording agents: both claims held until confirm, revert back to the old spec,
refusals that change nothing, auto-confirm after the window."""

import pytest
from oslo_config import cfg

from scheduler.store import ACTIVE, MIGRATING, RESIZED, models
from tests import busfleet
from tests.unit.scheduler import test_move_endpoints as moves_base
from tests.unit.scheduler.test_manager import add_hosts, reply
from tests.unit.scheduler.test_move_endpoints import active, call, overruns
from wire import rpc
from wire.errors import InvalidInput

# the fixtures of the move tests
bus, shared_store, moving = moves_base.bus, moves_base.shared_store, moves_base.moving
BIGGER = {'vcpus': 4, 'memory_mb': 2048, 'extra_specs': {'hw:cpu_policy': 'dedicated'}}


def pcpus(world, uuid, host):
    return {key for h, kind, key, u in world.store.held_resources()
            if u == uuid and h == host and kind == models.RESOURCE_PCPU}


def resized(world, request=BIGGER, hosts=2):
    """An instance resized to ``request`` on another host (its own is disabled for
    the decision), waiting for confirmation."""
    add_hosts(world, hosts)
    uuid = active(world)
    source = world.store.get_instance(uuid)
    call(world.manager, 'host_set_enabled', host=source.host, enabled=False)
    answer = call(world.manager, 'resize', instance=uuid, request=request)
    call(world.manager, 'host_set_enabled', host=source.host, enabled=True)
    assert (answer['kind'], answer['source_host']) == ('resize', source.host)
    [(host, _, dest, live, keep)] = world.agents.named('migrate_instance')
    assert (host, dest, live, keep) == (source.host, answer['dest_host'], False, True)
    record = world.store.get_instance(uuid)
    assert (record.state, record.task, record.host) == (MIGRATING, 'resizing', dest)
    [(finish_host, _, assignment)] = world.agents.named('finish_migration')
    assert finish_host == dest and assignment == answer['dest_assignment']
    reply(world, uuid, ACTIVE)          # the destination started it
    assert world.store.get_instance(uuid).state == RESIZED
    return uuid, source, world.store.get_migration(answer['uuid'])


def test_a_resize_holds_both_claims_until_confirm(moving):
    uuid, source, migration = resized(moving)
    assert migration.status == models.FINISHED and migration.new_spec['vcpus'] == 4
    assert len(pcpus(moving, uuid, source.host)) == 2
    assert len(pcpus(moving, uuid, migration.dest_host)) == 4
    assert overruns(moving) == []
    assert moving.events == ['instance.resize.start', 'instance.resize.end']
    [(host, _, assignment)] = moving.agents.named('prepare_migration')
    assert host == migration.dest_host and assignment['instance'] == uuid
    answer = call(moving.manager, 'resize_confirm', instance=uuid)
    assert answer['status'] == models.DONE
    record = moving.store.get_instance(uuid)
    assert (record.state, record.host, record.spec['vcpus']) == (
        ACTIVE, migration.dest_host, 4)
    assert pcpus(moving, uuid, source.host) == set()
    assert len(pcpus(moving, uuid, migration.dest_host)) == 4
    assert (source.host, uuid) in moving.agents.named('delete_instance')
    assert moving.events[-2:] == ['instance.resize_confirm.start',
                                  'instance.resize_confirm.end']
    assert overruns(moving) == []
    with pytest.raises(rpc.BusError) as caught:
        call(moving.manager, 'resize_confirm', instance=uuid)
    assert caught.value.code == rpc.CONFLICT


def test_a_revert_frees_the_destination_and_keeps_the_old_spec(moving):
    uuid, source, migration = resized(moving)
    with pytest.raises(rpc.BusError) as caught:
        call(moving.manager, 'delete', instance=uuid)
    assert caught.value.code == rpc.CONFLICT
    answer = call(moving.manager, 'resize_revert', instance=uuid)
    assert answer['status'] == models.REVERTED
    record = moving.store.get_instance(uuid)
    assert (record.state, record.host, record.spec['vcpus']) == (ACTIVE, source.host, 2)
    assert pcpus(moving, uuid, source.host) == {
        key for h, kind, key, u in moving.store.held_resources() if u == uuid}
    assert pcpus(moving, uuid, migration.dest_host) == set()
    assert (migration.dest_host, uuid) in moving.agents.named('delete_instance')
    assert moving.agents.named('finish_migration')[-1] == (
        source.host, uuid, migration.source_assignment)
    assert moving.events[-2:] == ['instance.resize_revert.start', 'instance.resize_revert.end']
    assert moving.store.move_claims() == [] and overruns(moving) == []
    reply(moving, uuid, ACTIVE)
    assert moving.store.get_instance(uuid).state == ACTIVE


def test_a_resize_stays_on_its_host_when_the_new_size_fits_there(moving):
    hosts = add_hosts(moving, 2)
    uuid = active(moving)
    source = moving.store.get_instance(uuid)
    other = next(h['name'] for h in hosts if h['name'] != source.host)
    call(moving.manager, 'host_set_enabled', host=other, enabled=False)
    answer = call(moving.manager, 'resize', instance=uuid, request=BIGGER)
    assert answer['dest_host'] == source.host
    assert moving.agents.named('prepare_migration') == []
    assert moving.agents.named('migrate_instance') == []
    [(host, _, assignment)] = moving.agents.named('resize_in_place')
    assert host == source.host and assignment == answer['dest_assignment']
    reply(moving, uuid, 'STOPPED')      # a power event of the move: changes nothing
    assert moving.store.get_instance(uuid).state == MIGRATING
    reply(moving, uuid, ACTIVE)
    assert moving.store.get_instance(uuid).state == RESIZED
    # both claims on the one host, disjoint: the old one is never counted as free
    assert len(pcpus(moving, uuid, source.host)) == 2 + 4 and overruns(moving) == []
    call(moving.manager, 'resize_revert', instance=uuid)
    [(host, _, assignment)] = moving.agents.named('revert_resize')
    assert host == source.host and assignment == source.assignment
    assert moving.agents.named('delete_instance') == []
    assert len(pcpus(moving, uuid, source.host)) == 2
    assert moving.store.get_instance(uuid).spec['vcpus'] == 2
    call(moving.manager, 'resize', instance=uuid, request=BIGGER)
    reply(moving, uuid, ACTIVE)
    call(moving.manager, 'resize_confirm', instance=uuid)
    assert moving.agents.named('delete_instance') == []      # the one copy stays
    record = moving.store.get_instance(uuid)
    assert (record.state, record.host, record.spec['vcpus']) == (ACTIVE, source.host, 4)
    assert len(pcpus(moving, uuid, source.host)) == 4 and overruns(moving) == []


def test_a_resize_that_fits_nowhere_changes_nothing(moving):
    add_hosts(moving, 2)
    uuid = active(moving)
    before = (moving.store.get_instance(uuid), sorted(moving.store.held_resources()))
    with pytest.raises(rpc.BusError) as caught:
        call(moving.manager, 'resize', instance=uuid,
             request={'vcpus': 60, 'memory_mb': 1024,
                      'extra_specs': {'hw:cpu_policy': 'dedicated'}})
    assert caught.value.code == rpc.NO_VALID_HOST
    assert (moving.store.get_instance(uuid), sorted(moving.store.held_resources())) == before
    assert moving.store.list_migrations(instance=uuid) == []


@pytest.mark.parametrize('request_, field', [
    ({'vcpus': 'four', 'memory_mb': 1024}, 'vcpus'),
    ({'count': 2, 'vcpus': 2, 'memory_mb': 1024}, 'request.count'),
    ({'server_group': 'g', 'vcpus': 2, 'memory_mb': 1024}, 'request.server_group'),
    ({'flavor': 'no-such-flavor'}, 'flavor'),
    ('big', 'request'),
])
def test_a_bad_resize_request_is_refused_naming_the_field(moving, request_, field):
    add_hosts(moving, 2)
    uuid = active(moving)
    before = moving.store.get_instance(uuid)
    with pytest.raises((rpc.BusError, InvalidInput)) as caught:   # the bus answers both
        call(moving.manager, 'resize', instance=uuid, request=request_)
    assert getattr(caught.value, 'code', rpc.INVALID_INPUT) == rpc.INVALID_INPUT
    assert field in str(caught.value)
    assert moving.store.get_instance(uuid) == before
    assert moving.store.list_migrations(instance=uuid) == []


@pytest.mark.parametrize('same_host', [False, True])
def test_a_refused_destination_leaves_the_instance_as_it_was(moving, same_host):
    hosts = add_hosts(moving, 2)
    moving.agents.refusal = 'VERIFY_FAILED: pCPU 3 is taken'
    uuid = active(moving)
    source = moving.store.get_instance(uuid)
    closed = source.host if not same_host else \
        next(h['name'] for h in hosts if h['name'] != source.host)
    call(moving.manager, 'host_set_enabled', host=closed, enabled=False)
    answer = call(moving.manager, 'resize', instance=uuid, request=BIGGER)
    assert (answer['dest_host'] == source.host) == same_host
    assert moving.store.get_migration(answer['uuid']).status == models.FAILED
    record = moving.store.get_instance(uuid)
    assert (record.state, record.host, record.spec) == (ACTIVE, source.host, source.spec)
    assert moving.store.move_claims() == [] and moving.events[-1] == 'instance.resize.error'


def test_only_a_resized_instance_can_be_confirmed_or_reverted(moving):
    add_hosts(moving, 2)
    uuid = active(moving)
    for method in ('resize_confirm', 'resize_revert'):
        with pytest.raises(rpc.BusError) as caught:
            call(moving.manager, method, instance=uuid)
        assert caught.value.code == rpc.CONFLICT


def test_a_resize_waiting_longer_than_the_window_is_confirmed(moving):
    uuid, source, migration = resized(moving)
    cfg.CONF.set_override('resize_confirm_window', 300, group='scheduler')
    try:
        moving.clock.now += 299
        moving.manager.check_hosts()
        assert moving.store.get_instance(uuid).state == RESIZED
        moving.clock.now += 2
        moving.manager.check_hosts()
    finally:
        cfg.CONF.clear_override('resize_confirm_window', group='scheduler')
    record = moving.store.get_instance(uuid)
    assert (record.state, record.host) == (ACTIVE, migration.dest_host)
    assert pcpus(moving, uuid, source.host) == set()


def test_a_flavor_resize_keeps_the_stored_ports_and_image(moving):
    add_hosts(moving, 2)
    uuid = active(moving, dict(busfleet.SRIOV, image='cirros'))
    call(moving.manager, 'resize', instance=uuid, request=BIGGER)
    migration = moving.store.list_migrations(instance=uuid)[0]
    assert migration.new_request['ports'] == busfleet.SRIOV['ports']
    assert migration.new_request['image'] == 'cirros'
    assert migration.new_spec['vcpus'] == 4
