"""Migration records and the claims of a move, on SQLite and PostgreSQL."""

import uuid as uuidlib

import pytest

from scheduler.store import ACTIVE, BUILDING, MIGRATING, RESIZED, ClaimConflict, models
from tests.unit.scheduler.store.test_store import (  # noqa: F401  (fixtures)
    new_instance,
    pinned,
    postgres_store,
    store,
    topology,
)

SOURCE, DEST = 'compute-1', 'compute-2'


def booted(db, pcpus=(0, 1), vfs=()):
    """An ACTIVE instance holding ``pcpus`` (and ``vfs``) on SOURCE."""
    uuid = new_instance(db)
    db.claim(pinned(uuid, pcpus, host=SOURCE, vfs=vfs), db.get_host(SOURCE).generation)
    db.update_instance(uuid, state=ACTIVE, host=SOURCE)
    return uuid


def start_move(db, uuid, pcpus=(0, 1), dest=DEST, vfs=()):
    migration = {'uuid': str(uuidlib.uuid4()), 'instance_uuid': uuid, 'kind': models.LIVE,
                 'status': models.CLAIMED, 'source_host': SOURCE,
                 'source_assignment': db.get_instance(uuid).assignment}
    db.claim_move(migration, pinned(uuid, pcpus, host=dest, vfs=vfs),
                  db.get_host(dest).generation)
    return migration['uuid']


@pytest.fixture
def hosts(store):  # noqa: F811  (the imported fixture)
    store.upsert_host(topology(SOURCE))
    store.upsert_host(topology(DEST))
    return store


def held(db):
    return sorted((host, key) for host, kind, key, _ in db.held_resources())


def test_a_move_holds_both_claims_until_it_finishes(hosts):
    uuid = booted(hosts)
    migration = start_move(hosts, uuid)
    assert held(hosts) == [(SOURCE, '0'), (SOURCE, '1'), (DEST, '0'), (DEST, '1')]
    assert hosts.get_instance(uuid).state == MIGRATING
    assert [h.assignment.instance for h in hosts.move_claims(DEST)] == [migration]
    assert hosts.move_claims(SOURCE) == []
    before = {name: hosts.get_host(name).generation for name in (SOURCE, DEST)}
    record, generations = hosts.finish_move(migration)
    assert record.uuid == migration
    assert held(hosts) == [(DEST, '0'), (DEST, '1')]
    record = hosts.get_instance(uuid)
    assert (record.state, record.host, record.assignment['host']) == (ACTIVE, DEST, DEST)
    assert {name: hosts.get_host(name).generation for name in (SOURCE, DEST)} == {
        name: generation + 1 for name, generation in before.items()} == generations
    assert hosts.get_migration(migration).status == models.DONE
    assert hosts.move_claims() == []
    assert hosts.finish_move(migration) is None       # once only


def test_an_aborted_move_frees_the_destination_and_keeps_the_source(hosts):
    uuid = booted(hosts)
    migration = start_move(hosts, uuid)
    record, generation = hosts.abort_move(migration, 'destination refused')
    assert record.uuid == migration and generation == hosts.get_host(DEST).generation
    assert held(hosts) == [(SOURCE, '0'), (SOURCE, '1')]
    record = hosts.get_instance(uuid)
    assert (record.state, record.host, record.task) == (ACTIVE, SOURCE, None)
    assert 'destination refused' in record.reason
    stored = hosts.get_migration(migration)
    assert (stored.status, stored.reason) == (models.FAILED, 'destination refused')
    assert hosts.abort_move(migration, 'again') is None
    assert hosts.finish_move(migration) is None


def test_a_destination_resource_held_by_another_instance_conflicts(hosts):
    other = new_instance(hosts)
    hosts.claim(pinned(other, (2,), host=DEST), hosts.get_host(DEST).generation)
    uuid = booted(hosts)
    with pytest.raises(ClaimConflict):
        start_move(hosts, uuid, pcpus=(1, 2))
    assert hosts.list_migrations(instance=uuid) == []
    assert hosts.get_instance(uuid).state == ACTIVE      # nothing written


def test_a_stale_destination_generation_conflicts(hosts):
    uuid = booted(hosts)
    migration = {'uuid': str(uuidlib.uuid4()), 'instance_uuid': uuid, 'kind': models.COLD,
                 'status': models.CLAIMED, 'source_host': SOURCE}
    with pytest.raises(ClaimConflict, match='stale'):
        hosts.claim_move(migration, pinned(uuid, (0,), host=DEST),
                         hosts.get_host(DEST).generation - 1)
    assert hosts.list_migrations() == []


def test_an_instance_moves_once_at_a_time(hosts):
    uuid = booted(hosts)
    start_move(hosts, uuid)
    with pytest.raises(ClaimConflict, match='already moving'):
        start_move(hosts, uuid, pcpus=(4, 5))


def test_a_same_host_move_holds_old_and_new_resources_apart(hosts):
    uuid = booted(hosts)
    with pytest.raises(ClaimConflict):    # a pCPU the source claim holds
        start_move(hosts, uuid, pcpus=(1, 2), dest=SOURCE)
    migration = start_move(hosts, uuid, pcpus=(2, 3), dest=SOURCE)
    hosts.finish_move(migration)
    assert held(hosts) == [(SOURCE, '2'), (SOURCE, '3')]


def test_vfs_are_guarded_during_a_move(hosts):
    uuid = booted(hosts, vfs=('0000:81:00.1',))
    other = new_instance(hosts)
    hosts.claim(pinned(other, (6,), host=DEST, vfs=('0000:81:00.2',)),
                hosts.get_host(DEST).generation)
    with pytest.raises(ClaimConflict):
        start_move(hosts, uuid, vfs=('0000:81:00.2',))
    migration = start_move(hosts, uuid, vfs=('0000:81:00.1',))   # same address, other host
    hosts.finish_move(migration, state=BUILDING)
    assert hosts.get_instance(uuid).state == BUILDING


def test_releasing_a_moving_instance_ends_its_move(hosts):
    uuid = booted(hosts)
    migration = start_move(hosts, uuid)
    hosts.release(uuid)
    assert held(hosts) == []
    assert hosts.get_migration(migration).status == models.FAILED


def test_listing_filters_by_instance_host_and_activity(hosts):
    first, second = booted(hosts), booted(hosts, pcpus=(2, 3))
    done = start_move(hosts, first)
    hosts.finish_move(done)
    active = start_move(hosts, second, pcpus=(4, 5))
    failed = hosts.record_failed_move({'uuid': str(uuidlib.uuid4()), 'instance_uuid': first,
                                       'kind': models.LIVE, 'status': models.CLAIMED,
                                       'source_host': DEST}, 'NoValidHost: full')
    assert failed.status == models.FAILED and failed.dest_host is None
    assert [m.uuid for m in hosts.list_migrations(instance=first)] == [done, failed.uuid]
    assert [m.uuid for m in hosts.list_migrations(active=True)] == [active]
    assert {m.uuid for m in hosts.list_migrations(host=SOURCE)} == {done, active}


def start_resize(db, uuid, pcpus=(2, 3, 4, 5), dest=DEST):
    migration = {'uuid': str(uuidlib.uuid4()), 'instance_uuid': uuid, 'kind': models.RESIZE,
                 'status': models.CLAIMED, 'source_host': SOURCE,
                 'source_assignment': db.get_instance(uuid).assignment,
                 'new_spec': {'vcpus': len(pcpus)}, 'new_request': {'vcpus': len(pcpus)}}
    db.claim_move(migration, pinned(uuid, pcpus, host=dest), db.get_host(dest).generation)
    assert db.set_move_status(migration['uuid'], models.MOVING)
    return migration['uuid']


@pytest.mark.parametrize('dest', [DEST, SOURCE])
def test_a_resize_holds_both_claims_once_moved_until_confirmed(hosts, dest):
    uuid = booted(hosts)
    old_spec = hosts.get_instance(uuid).spec
    migration = start_resize(hosts, uuid, dest=dest)
    assert hosts.get_instance(uuid).task == 'resizing'
    moved = hosts.resized_move(migration)
    assert moved.status == models.FINISHED and moved.active
    assert hosts.resized_move(migration) is None          # once only
    record = hosts.get_instance(uuid)
    assert (record.host, record.state, record.spec) == (dest, MIGRATING, old_spec)
    hosts.update_instance(uuid, state=RESIZED, task=None)
    assert len(held(hosts)) == 2 + 4
    assert hosts.list_migrations(active=True)[0].new_spec == {'vcpus': 4}
    hosts.finish_move(migration)
    record = hosts.get_instance(uuid)
    assert (record.state, record.host, record.spec, record.request) == (
        ACTIVE, dest, {'vcpus': 4}, {'vcpus': 4})
    assert held(hosts) == [(dest, str(p)) for p in (2, 3, 4, 5)]


def test_a_reverted_resize_is_back_on_its_source_with_its_old_spec(hosts):
    uuid = booted(hosts)
    old = hosts.get_instance(uuid)
    migration = start_resize(hosts, uuid)
    hosts.resized_move(migration)
    hosts.update_instance(uuid, state=RESIZED, task=None)
    record, generation = hosts.abort_move(migration, None, revert=True)
    assert generation == hosts.get_host(DEST).generation
    record = hosts.get_instance(uuid)
    assert (record.state, record.host, record.spec, record.reason) == (
        ACTIVE, SOURCE, old.spec, None)
    assert held(hosts) == [(SOURCE, '0'), (SOURCE, '1')]
    assert hosts.get_migration(migration).status == models.REVERTED
    assert hosts.move_claims() == []
