"""Results that come late, twice or never: every instance still ends in a state that
matches its host (found by the chaos suite, tests/functional/chaos.py).

Two schedulers take an agent's batches of results in any order, a build may outrun
the delete asked meanwhile, and a broker node, an agent or a scheduler may die with
a delete or its answer in flight.
"""

from scheduler import reconcile
from scheduler.store import ACTIVE, BUILDING, DELETED, ERROR
from tests import busfleet
from tests.unit.scheduler.test_manager import (  # noqa: F401  (fixtures)
    add_hosts,
    bus,
    postgres_schema,
    reply,
    report,
    world,
)


def booted(world, template=busfleet.PINNED):  # noqa: F811
    return world.client.boot(template)['instances'][0]['uuid']


def domain_of(world, uuid, state='running'):  # noqa: F811
    record = world.store.get_instance(uuid)
    return {'uuid': uuid, 'name': record.name, 'state': state,
            'assignment': record.assignment}


def deletes_sent(world):  # noqa: F811
    return [call for call in world.agents.calls if call[0] == 'delete_instance']


def test_a_result_arriving_after_delete_revives_nothing(world):  # noqa: F811
    add_hosts(world, 1)
    for late in (ACTIVE, ERROR):
        uuid = booted(world)
        world.client.delete(uuid)
        reply(world, uuid, DELETED)
        reply(world, uuid, late, 'FILES_FAILED: the delete removed the directory'
              if late == ERROR else None)
        record = world.store.get_instance(uuid)
        assert (record.state, record.task, record.assignment) == (DELETED, None, None)
    assert world.store.held_resources() == []


def test_a_domain_a_late_build_left_for_a_deleted_instance_is_deleted_again(world):  # noqa: F811,E501
    [host] = add_hosts(world, 1)
    uuid = booted(world)
    domain = domain_of(world, uuid)
    world.client.delete(uuid)
    reply(world, uuid, DELETED)         # the delete ran first, then the build made a domain
    reply(world, uuid, ACTIVE)
    sent = len(deletes_sent(world))
    report(world, host, [domain])       # a delete just went out: not sent at every report
    assert len(deletes_sent(world)) == sent
    world.clock.now += reconcile.RECENT_CHANGE_S
    report(world, host, [domain])
    assert deletes_sent(world)[-1][1:] == (host['name'], uuid)
    report(world, host, [domain])       # the agent is slow: once per RECENT_CHANGE_S
    assert len(deletes_sent(world)) == sent + 1
    assert world.store.get_instance(uuid).state == DELETED


def test_a_delete_asked_while_building_survives_the_builds_result(world):  # noqa: F811
    add_hosts(world, 1)
    uuid = booted(world)
    assert world.client.delete(uuid)['task'] == 'deleting'
    reply(world, uuid, ACTIVE)          # the build's answer, before the delete's
    record = world.store.get_instance(uuid)
    assert (record.state, record.task) == (ACTIVE, 'deleting')
    reply(world, uuid, DELETED)
    assert world.store.get_instance(uuid).state == DELETED


def test_a_delete_asked_while_building_survives_a_report_of_the_running_domain(world):  # noqa: F811,E501
    [host] = add_hosts(world, 1)
    uuid = booted(world)
    world.client.delete(uuid)
    report(world, host, [domain_of(world, uuid)])
    record = world.store.get_instance(uuid)
    assert (record.state, record.task) == (ACTIVE, 'deleting')


def test_a_build_failing_while_its_instance_is_deleted_is_not_retried(world):  # noqa: F811
    add_hosts(world, 3)
    uuid = booted(world)
    world.client.delete(uuid)
    builds = len(world.agents.builds())
    reply(world, uuid, ERROR, 'FILES_FAILED: the delete removed the directory')
    record = world.store.get_instance(uuid)
    assert (record.state, record.task, record.assignment) == (DELETED, None, None)
    assert len(world.agents.builds()) == builds       # no reschedule
    assert world.store.held_resources() == []


def test_a_lost_delete_is_sent_again_while_the_host_still_has_the_domain(world):  # noqa: F811
    [host] = add_hosts(world, 1)
    uuid = booted(world)
    reply(world, uuid, ACTIVE)
    world.client.delete(uuid)
    sent = len(deletes_sent(world))
    domain = domain_of(world, uuid)
    report(world, host, [domain])                       # the delete may be on its way
    assert len(deletes_sent(world)) == sent
    world.clock.now += reconcile.RECENT_CHANGE_S
    report(world, host, [domain])                       # lost: sent again
    assert deletes_sent(world)[-1][1:] == (host['name'], uuid)
    assert len(deletes_sent(world)) == sent + 1
    report(world, host, [domain])                       # not at every report
    assert len(deletes_sent(world)) == sent + 1
    world.clock.now += reconcile.RECENT_CHANGE_S
    report(world, host, [])                             # the host has deleted it
    record = world.store.get_instance(uuid)
    assert (record.state, record.task) == (DELETED, None)
    assert world.store.held_resources() == []


def test_a_lost_delete_answer_ends_deleted_without_waiting_the_build_grace(world):  # noqa: F811
    [host] = add_hosts(world, 1)
    uuid = booted(world)
    reply(world, uuid, ACTIVE)
    world.client.delete(uuid)
    report(world, host, [])             # the report may predate the delete
    assert world.store.get_instance(uuid).task == 'deleting'
    world.clock.now += reconcile.RECENT_CHANGE_S
    report(world, host, [])
    assert world.store.get_instance(uuid).state == DELETED
    assert world.store.held_resources() == []


def test_a_live_instance_left_without_claim_and_domain_ends(world):  # noqa: F811
    """A scheduler killed between freeing a claim and recording the new state."""
    from oslo_config import cfg
    [host] = add_hosts(world, 1)
    deleting, active = booted(world), booted(world, busfleet.SHARED)
    for uuid in (deleting, active):
        reply(world, uuid, ACTIVE)
    world.client.delete(deleting)
    for uuid in (deleting, active):
        world.store.release(uuid)       # ... and the process died here
    report(world, host, [])
    assert world.store.get_instance(deleting).task == 'deleting'
    world.clock.now += reconcile.RECENT_CHANGE_S
    report(world, host, [])
    assert world.store.get_instance(deleting).state == DELETED
    assert world.store.get_instance(active).state == ACTIVE     # within the grace
    world.clock.now += cfg.CONF.scheduler.build_grace_period
    report(world, host, [])
    record = world.store.get_instance(active)
    assert record.state == ERROR
    assert record.reason == (f"no claim and no domain on host {host['name']} "
                             '(host report reconciliation)')


def test_a_building_instance_with_its_claim_is_left_alone_within_the_grace(world):  # noqa: F811,E501
    [host] = add_hosts(world, 1)
    uuid = booted(world)
    world.clock.now += reconcile.RECENT_CHANGE_S
    report(world, host, [])
    assert world.store.get_instance(uuid).state == BUILDING


def test_another_schedulers_stale_read_does_not_undo_a_delete(world):  # noqa: F811
    """Two schedulers: one read the instance before the other committed its DELETED."""
    add_hosts(world, 1)
    uuid = booted(world)
    reply(world, uuid, ACTIVE)
    world.client.delete(uuid)
    stale = world.store.get_instance(uuid)      # ACTIVE, deleting
    reply(world, uuid, DELETED)
    world.manager._apply_update(stale, ACTIVE, None)    # a late build result, stale read
    record = world.store.get_instance(uuid)
    assert (record.state, record.task) == (DELETED, None)
    sent = len(deletes_sent(world))
    world.manager._find = lambda instance: stale        # a client's retried delete
    assert world.client.delete(uuid)['state'] == DELETED
    record = world.store.get_instance(uuid)
    assert (record.state, record.task) == (DELETED, None)
    assert len(deletes_sent(world)) == sent            # nothing to send


def test_a_reconciliation_on_a_stale_read_does_not_undo_a_delete(world, monkeypatch):  # noqa: F811,E501
    """Scheduler B read a host's claims and instances for a report (queued behind its lock,
    listing the domains before the build); scheduler A then took the delete's answer."""
    from oslo_config import cfg
    [host] = add_hosts(world, 1)
    uuid = booted(world)
    reply(world, uuid, ACTIVE)
    held, records = world.store.held_instances(host['name']), world.store.list_instances()
    world.client.delete(uuid)
    reply(world, uuid, DELETED)
    monkeypatch.setattr(world.store, 'held_instances', lambda host=None: held)
    monkeypatch.setattr(world.store, 'list_instances', lambda **filters: records)
    world.clock.now += cfg.CONF.scheduler.build_grace_period + 1
    report(world, host, [])
    record = world.store.get_instance(uuid)
    assert (record.state, record.task, record.reason) == (DELETED, None, None)
    assert 'instance.create.error' not in world.notifier.names()
