"""Server groups as objects (scheduler/server_groups.py) through the manager's endpoints.

Over the in-process bus of test_manager, on SQLite and PostgreSQL: created once with a
policy that never changes, named by boots, members tracked, Nova's max_server_per_host,
and every refusal leaves the store as it was.
"""

import pytest

from scheduler.store import ACTIVE, DELETED
from tests import busfleet
from tests.unit.scheduler.test_manager import (  # noqa: F401  (fixtures)
    add_hosts,
    bus,
    postgres_schema,
    reply,
    world,
)
from wire import rpc, scheduler_rpcapi, upgrade_levels
from wire.request_spec import ServerGroup

WEB = {'name': 'web', 'policy': 'anti-affinity', 'rules': {'max_server_per_host': 2}}


def boot(world, group, count=1, **changes):  # noqa: F811
    request = busfleet.request(busfleet.SHARED, name='member', count=count, **changes)
    return world.client.boot(dict(request, server_group=group))['instances']


def refused(call, code):
    with pytest.raises(rpc.BusError) as caught:
        call()
    assert caught.value.code == code, caught.value.one_line()
    return caught.value.message + str(caught.value.details)


def per_host(world, group):  # noqa: F811
    hosts = {}
    for held in world.store.held_instances():
        if held.server_group == group:
            hosts[held.assignment.host] = hosts.get(held.assignment.host, 0) + 1
    return hosts


def test_a_group_is_created_shown_and_listed(world):  # noqa: F811
    created = world.client.server_group_create(WEB)
    assert (created['name'], created['policy'], created['rules'], created['members']) == \
        ('web', 'anti-affinity', {'max_server_per_host': 2}, [])
    world.client.server_group_create({'name': 'db', 'policy': 'affinity'})
    listed = {g['name']: g for g in world.client.server_group_list()['server_groups']}
    assert listed['db']['rules'] == {} and listed['web']['members'] == 0
    assert world.client.server_group_show('web') == created


def test_max_server_per_host_places_that_many_members_per_host(world):  # noqa: F811
    add_hosts(world, 3)
    world.client.server_group_create(WEB)
    instances = boot(world, 'web', count=6)
    assert all(i['host'] for i in instances)
    assert sorted(per_host(world, 'web').values()) == [2, 2, 2]
    message = refused(lambda: boot(world, 'web'), rpc.NO_VALID_HOST)
    assert "'reasons': {'SERVER_GROUP_ANTI_AFFINITY': 3}" in message
    # Members are the group's instances not deleted: the refused one is ERROR, a member
    # as in Nova, until it is deleted.
    members = {m['uuid']: m['state'] for m in world.client.server_group_show('web')['members']}
    assert sorted(u for u, state in members.items() if state != 'ERROR') == \
        sorted(i['uuid'] for i in instances)
    assert sorted(members.values()).count('ERROR') == 1
    assert world.client.server_group_list()['server_groups'][0]['members'] == 7


def test_anti_affinity_without_rules_keeps_novas_one_per_host(world):  # noqa: F811
    add_hosts(world, 2)
    world.client.server_group_create({'name': 'one', 'policy': 'anti-affinity'})
    boot(world, 'one', count=2)
    assert sorted(per_host(world, 'one').values()) == [1, 1]
    refused(lambda: boot(world, 'one'), rpc.NO_VALID_HOST)


def test_an_inline_group_is_created_by_its_first_boot_and_then_fixed(world):  # noqa: F811
    add_hosts(world, 2)
    boot(world, {'name': 'pair', 'policy': 'affinity'})
    assert world.client.server_group_show('pair')['policy'] == 'affinity'
    before = world.store.list_instances()
    message = refused(lambda: boot(world, {'name': 'pair', 'policy': 'anti-affinity'}),
                      rpc.CONFLICT)
    assert "exists with policy affinity" in message and 'never change' in message
    assert world.store.list_instances() == before
    second = boot(world, {'name': 'pair', 'policy': 'affinity'})   # same policy: a member
    assert second[0]['host'] == before[0].host


def test_a_refused_boot_creates_no_group(world):  # noqa: F811
    add_hosts(world, 1)
    bad = dict(busfleet.request(busfleet.SHARED, vcpus=0), server_group={
        'name': 'ghost', 'policy': 'affinity'})
    refused(lambda: world.client.boot(bad), rpc.INVALID_INPUT)
    refused(lambda: boot(world, {'name': 'ghost', 'policy': 'affinity',
                                 'rules': {'max_server_per_host': 2}}), rpc.INVALID_INPUT)
    world.client.explain(dict(busfleet.SHARED, server_group={'name': 'ghost',
                                                             'policy': 'affinity'}))
    assert world.client.server_group_list()['server_groups'] == []
    assert world.store.list_instances() == []


def test_a_group_by_name_must_exist(world):  # noqa: F811
    add_hosts(world, 1)
    message = refused(lambda: boot(world, 'nobody'), rpc.INVALID_INPUT)
    assert "server_group: no server group named 'nobody'" in message
    refused(lambda: boot(world, 'bad\u202ename'), rpc.INVALID_INPUT)


def test_explain_and_capacity_read_a_group_by_name(world):  # noqa: F811
    add_hosts(world, 2)
    world.client.server_group_create({'name': 'one', 'policy': 'anti-affinity'})
    boot(world, 'one')
    request = dict(busfleet.SHARED, server_group='one')
    assert world.client.capacity(request)['fits'] == 1
    answer = world.client.explain(dict(request, count=2, min_count=2))
    assert answer['assignments'] == []
    assert 'SERVER_GROUP_ANTI_AFFINITY' in str(answer['explanation'])


def test_create_refuses_a_taken_name_and_bad_groups(world):  # noqa: F811
    world.client.server_group_create(WEB)
    message = refused(lambda: world.client.server_group_create(
        {'name': 'web', 'policy': 'affinity'}), rpc.CONFLICT)
    assert "'web' already exists (policy anti-affinity)" in message
    for group in ({'name': 'x', 'policy': 'spread'}, {'policy': 'affinity'},
                  {'name': 'x', 'policy': 'affinity', 'rules': {'max_server_per_host': 2}},
                  'x', None):
        refused(lambda g=group: world.client.server_group_create(g), rpc.INVALID_INPUT)
    assert [g['name'] for g in world.client.server_group_list()['server_groups']] == ['web']


def test_a_group_with_members_is_not_deleted(world):  # noqa: F811
    add_hosts(world, 2)
    world.client.server_group_create(WEB)
    [member] = boot(world, 'web')
    reply(world, member['uuid'], ACTIVE)
    message = refused(lambda: world.client.server_group_delete('web'), rpc.CONFLICT)
    assert member['uuid'] in message and 'delete them first' in message
    world.client.delete(member['uuid'])
    reply(world, member['uuid'], DELETED)
    assert world.client.server_group_delete('web')['name'] == 'web'
    refused(lambda: world.client.server_group_show('web'), rpc.NOT_FOUND)
    refused(lambda: world.client.server_group_delete('web'), rpc.NOT_FOUND)


def test_the_spec_carries_the_stored_rules(world):  # noqa: F811
    add_hosts(world, 1)
    world.client.server_group_create(WEB)
    [member] = boot(world, 'web')
    spec = world.store.get_instance(member['uuid']).spec
    assert ServerGroup(**spec['server_group']) == ServerGroup('web', 'anti-affinity', 2)
    assert world.store.get_instance(member['uuid']).request['server_group'] == WEB


def test_a_client_capped_below_1_3_refuses_group_calls(bus, monkeypatch):  # noqa: F811
    api = scheduler_rpcapi.SchedulerAPI(timeout=5)
    monkeypatch.setattr(api.client, 'version_cap', '1.2')
    with pytest.raises(rpc.BusError) as caught:
        api.server_group_list()
    assert caught.value.message == upgrade_levels.capped('server_group_list', '1.3').message
