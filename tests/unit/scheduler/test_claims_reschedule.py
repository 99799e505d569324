"""A build retried on an alternate goes through the engine's evaluation path on current state.

Over the in-process bus of test_manager: an alternate that now fails a filter (disabled
meanwhile, holding an anti-affine sibling placed after the alternates were chosen, missing a
trait the request asks for) is skipped with its reason logged, and the next one is tried.
"""

import logging

import pytest
from oslo_config import cfg

from scheduler.store import BUILDING, ERROR
from tests import busfleet
from tests.unit.scheduler.test_manager import (  # noqa: F401  (fixtures)
    add_hosts,
    bus,
    postgres_schema,
    reply,
    report,
    world,
)


@pytest.fixture
def attempts():
    cfg.CONF.set_override('max_attempts', 4, group='scheduler')
    yield
    cfg.CONF.clear_override('max_attempts', group='scheduler')


def boot(world, request):  # noqa: F811
    return [i['uuid'] for i in world.client.boot(request)['instances']]


def test_an_alternate_disabled_meanwhile_is_skipped(world, attempts, caplog):  # noqa: F811
    add_hosts(world, 4)
    [uuid] = boot(world, busfleet.SHARED)
    record = world.store.get_instance(uuid)
    disabled = record.alternates[0]
    world.client.host_set_enabled(disabled, False, 'maintenance')
    with caplog.at_level(logging.INFO, logger='scheduler.claims'):
        reply(world, uuid, ERROR, 'libvirt said no')
    moved = world.store.get_instance(uuid)
    assert moved.state == BUILDING
    assert moved.host not in (record.host, disabled)
    assert moved.host == record.alternates[1]
    assert f"alternate {disabled} skipped: HOST_DISABLED" in caplog.text


def test_an_alternate_now_holding_an_anti_affine_sibling_is_skipped(world, attempts,  # noqa: F811
                                                                    caplog):
    add_hosts(world, 4)
    world.client.server_group_create({'name': 'web', 'policy': 'anti-affinity'})
    group = dict(busfleet.request(busfleet.SHARED, name='web'), server_group='web')
    [first] = boot(world, group)
    record = world.store.get_instance(first)
    # A second member lands on the first member's best alternate (the only host left
    # open to it), after the alternates were chosen.
    taken = record.alternates[0]
    for name in {record.host} | set(record.alternates[1:]):
        world.client.host_set_enabled(name, False, 'closed for the test')
    [second] = boot(world, group)
    assert world.store.get_instance(second).host == taken
    for name in {record.host} | set(record.alternates[1:]):
        world.client.host_set_enabled(name, True)
    with caplog.at_level(logging.INFO, logger='scheduler.claims'):
        reply(world, first, ERROR, 'libvirt said no')
    moved = world.store.get_instance(first)
    assert moved.state == BUILDING and moved.host not in (record.host, taken)
    assert f"alternate {taken} skipped: SERVER_GROUP_ANTI_AFFINITY" in caplog.text


def test_an_alternate_that_lost_a_required_trait_is_skipped(world, attempts, caplog):  # noqa: F811
    hosts = [dict(h, traits=['CUSTOM_FAST']) for h in busfleet.fleet(3)]
    for host in hosts:
        report(world, host)
    request = dict(busfleet.SHARED, extra_specs={'trait:CUSTOM_FAST': 'required'})
    [uuid] = boot(world, request)
    record = world.store.get_instance(uuid)
    lost = record.alternates[0]
    report(world, next(dict(h, traits=[]) for h in hosts if h['name'] == lost))
    with caplog.at_level(logging.INFO, logger='scheduler.claims'):
        reply(world, uuid, ERROR, 'libvirt said no')
    moved = world.store.get_instance(uuid)
    assert moved.state == BUILDING and moved.host not in (record.host, lost)
    assert f"alternate {lost} skipped: TRAIT_MISSING" in caplog.text
