"""instance_updates (1.1): several agent results in one message, each applied on its own."""

from scheduler.store import ACTIVE, BUILDING, ERROR, STOPPED
from tests import busfleet
from tests.unit.scheduler.test_manager import (  # noqa: F401  (fixtures)
    add_hosts,
    bus,
    postgres_schema,
    world,
)


def test_a_batch_applies_every_result_in_order_and_skips_a_bad_item(world):  # noqa: F811
    add_hosts(world)
    booted = [world.client.boot(busfleet.request(busfleet.PINNED, name=f"vm-{i}"))
              ['instances'][0] for i in range(3)]
    updates = [{'instance': b['uuid'], 'host': b['host'], 'state': ACTIVE} for b in booted]
    updates.insert(1, {'instance': booted[1]['uuid'], 'host': booted[1]['host'],
                       'state': 'FLYING'})          # rejected alone
    updates.insert(2, 'not an object')               # rejected alone
    world.client.client.prepare(version='1.1').call({}, 'instance_updates', updates=updates)
    assert [world.client.show(b['uuid'])['state'] for b in booted] == [ACTIVE] * 3
    assert 'instance.create.end' not in world.notifier.names()   # the agent says it


def test_a_failed_build_in_a_batch_is_rescheduled(world):  # noqa: F811
    add_hosts(world, 3)
    [booted] = world.client.boot(busfleet.PINNED)['instances']
    world.client.client.prepare(version='1.1').call({}, 'instance_updates', updates=[
        {'instance': booted['uuid'], 'host': booted['host'], 'state': ERROR,
         'reason': 'VERIFY_FAILED: cpu 3 busy'}])
    record = world.client.show(booted['uuid'])
    assert record['state'] == BUILDING and record['host'] != booted['host']
    assert record['attempts'] == [{'host': booted['host'],
                                   'reason': 'VERIFY_FAILED: cpu 3 busy'}]


def test_results_of_one_instance_keep_their_order_around_a_run_of_builds(world):  # noqa: F811
    add_hosts(world)
    first, second = (world.client.boot(busfleet.request(busfleet.PINNED, name=f"o-{i}"))
                     ['instances'][0] for i in range(2))
    world.client.client.prepare(version='1.1').call({}, 'instance_updates', updates=[
        {'instance': first['uuid'], 'host': first['host'], 'state': ACTIVE},
        {'instance': first['uuid'], 'host': first['host'], 'state': STOPPED},
        {'instance': second['uuid'], 'host': second['host'], 'state': ACTIVE},
        {'instance': first['uuid'], 'host': first['host'], 'state': ACTIVE},
        {'instance': second['uuid'], 'host': 'not-its-host', 'state': ACTIVE}])
    assert world.client.show(first['uuid'])['state'] == ACTIVE      # ACTIVE, STOPPED, ACTIVE
    assert world.client.show(second['uuid'])['state'] == ACTIVE


def test_a_store_failure_on_finished_builds_does_not_hold_back_the_rest(world, monkeypatch):  # noqa: F811,E501
    add_hosts(world)
    built, other = (world.client.boot(busfleet.request(busfleet.PINNED, name=f"f-{i}"))
                    ['instances'][0] for i in range(2))

    def store_down(finished, now=None):
        raise RuntimeError('deadlock detected')
    monkeypatch.setattr(world.store, 'finish_builds', store_down)
    world.client.client.prepare(version='1.1').call({}, 'instance_updates', updates=[
        {'instance': built['uuid'], 'host': built['host'], 'state': ACTIVE},
        {'instance': other['uuid'], 'host': other['host'], 'state': ERROR,
         'reason': 'START_FAILED: boom'}])
    # the batch's commit failed: each of its builds took the one-by-one path
    assert world.client.show(built['uuid'])['state'] == ACTIVE
    record = world.client.show(other['uuid'])
    assert record['attempts'] == [{'host': other['host'], 'reason': 'START_FAILED: boom'}]
