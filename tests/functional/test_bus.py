"""Scheduler + simulated agents on the real RabbitMQ: concurrent boots end to end,
what the agents applied equals what the store claimed, nothing held twice, and
restarts of either service lose nothing.
"""

import collections
import threading
import xml.etree.ElementTree as ET

import pytest

from agent.discovery.host import discover
from agent.discovery.opts import HostSettings
from agent.domain import domain_name, parse_metadata
from tests import busfleet
from tests.functional.bus_stack import running_stack
from wire import rpc
from wire.assignment import Assignment

pytestmark = pytest.mark.rabbit

CLIENTS, BOOTS_PER_CLIENT = 4, 50
IMPOSSIBLE = dict(busfleet.PINNED, name='impossible', vcpus=64)
FIXTURE_HOSTS = {'fixture-cascadelake': 'virttuner_caps_cascadelake_2socket.xml',
                 'fixture-multiqemu': 'vdsm_caps_libvirt_multiqemu.xml'}


def fixture_hosts(shared_fixtures):
    """Hosts discovered from real captures (the discovery helper's parser), 2 shared pCPUs."""
    from tests.unit.agent.fakes import FixtureConnection
    hosts = []
    for name, capture in FIXTURE_HOSTS.items():
        conn = FixtureConnection.from_files(
            shared_fixtures / 'capabilities' / capture,
            domcaps=shared_fixtures / 'domcaps' / 'virtmanager_kvm-x86_64-domcaps-latest.xml',
            node_memory_kb=64 * 1024 * 1024)
        online = discover(conn, HostSettings(), host_name=name).topology
        cpus = sorted(c for cell in online.cells for c in cell.shared_cpus)
        settings = HostSettings(dedicated_set=frozenset(cpus[2:]), shared_set=frozenset(cpus[:2]))
        hosts.append(discover(conn, settings, host_name=name).topology.to_dict())
    return hosts


@pytest.fixture(scope='module')
def stack(rabbit_url, shared_fixtures, tmp_path_factory):
    hosts = busfleet.fleet(14, prefix='gen') + fixture_hosts(shared_fixtures)
    with running_stack(tmp_path_factory.mktemp('bus'), hosts) as stack:
        yield stack


def request_for(client, index):
    if index % 25 == 24:
        return dict(IMPOSSIBLE, name=f"c{client}-impossible-{index}")
    if index % 10 == 9:
        return {'name': f"c{client}-flavor-{index}", 'flavor': 'c1.pinned'}
    template = busfleet.MIXED[index % len(busfleet.MIXED)]
    return dict(template, name=f"c{client}-{template['name']}-{index}")


def boot_many(stack, client, uuids, errors):
    api = stack.api()
    for index in range(BOOTS_PER_CLIENT):
        try:
            answer = api.boot(request_for(client, index))
            uuids.extend(i['uuid'] for i in answer['instances'])
        except rpc.BusError as exc:
            if exc.code != rpc.NO_VALID_HOST:
                errors.append(exc.one_line())
            uuids.extend(exc.details.get('instances', []))


def applied(stack, host, uuid):
    """(Assignment in the domain metadata, vcpupin map) read back from libvirt."""
    xml = stack.manager(host).driver.conn.domain_xml(domain_name(uuid))
    _, _, assignment = parse_metadata(xml)
    pins = {int(p.get('vcpu')): p.get('cpuset')
            for p in ET.fromstring(xml).findall('cputune/vcpupin')}
    return assignment, pins


def assert_nothing_held_twice(stack, active):
    pcpus, pcis, pages = collections.Counter(), collections.Counter(), collections.Counter()
    for record in active.values():
        assignment = Assignment.from_dict(record['assignment'])
        pcpus.update((assignment.host, c) for c in assignment.pinned_pcpus)
        pcis.update((assignment.host, p.address) for p in assignment.pci_devices)
        for cell in assignment.cells:
            if cell.page_size_kb != 4:
                pages[(assignment.host, cell.host_cell, cell.page_size_kb)] += \
                    cell.memory_mb * 1024 // cell.page_size_kb
    assert [k for k, n in pcpus.items() if n > 1] == []
    assert [k for k, n in pcis.items() if n > 1] == []
    for (host, cell, size), used in pages.items():
        pool = stack.manager(host).topology().cell(cell).pages[size]
        assert used <= pool, f"{host} cell {cell}: {used} {size}K pages of {pool}"
    held = stack.store().held_resources()
    assert len(held) == len(set((h, k, key) for h, k, key, _ in held))


def test_200_mixed_boots_from_4_clients_end_active_or_error_and_match_libvirt(stack):
    uuids, errors = [], []
    threads = [threading.Thread(target=boot_many, args=(stack, c, uuids, errors))
               for c in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    assert len(uuids) == CLIENTS * BOOTS_PER_CLIENT
    final = stack.wait_settled(uuids)
    assert all(r['state'] in ('ACTIVE', 'ERROR') for r in final.values())
    assert all(r['reason'] for r in final.values() if r['state'] == 'ERROR')
    failed_builds = [(r['name'], r['host'], r['reason']) for r in final.values()
                     if r['state'] == 'ERROR' and 'NoValidHost' not in r['reason']]
    assert failed_builds == []      # every placed instance fits its host: none may fail
    active = {u: stack.api().show(u) for u, r in final.items() if r['state'] == 'ACTIVE'}
    assert len(active) >= 100
    impossible = [r for r in final.values() if 'impossible' in r['name']]
    assert impossible and all(r['state'] == 'ERROR' and 'NoValidHost' in r['reason']
                              for r in impossible)
    for uuid, record in active.items():
        assignment, pins = applied(stack, record['host'], uuid)
        assert assignment.to_dict() == record['assignment']
        for cell in assignment.cells:
            for vcpu, pcpu in cell.pinning.items():
                assert pins[vcpu] == str(pcpu)
    assert_nothing_held_twice(stack, active)


def test_notifications_are_off_unless_configured(stack):
    """No [oslo_messaging_notifications] driver (this stack's config): after boots,
    deletes and a NoValidHost, no notification queue grows on the broker."""
    api = stack.api()
    uuid = api.boot(dict(busfleet.SHARED, name='not-notified'))['instances'][0]['uuid']
    stack.wait_settled([uuid])
    api.delete(uuid)
    stack.wait_settled([uuid], settled=('DELETED',))
    with pytest.raises(rpc.BusError):
        api.boot(dict(IMPOSSIBLE, name='not-notified-either'))
    queues = stack.rabbitmqctl('list_queues', '-p', stack.vhost, '-q', 'name').stdout.split()
    assert [q for q in queues if q.startswith('notifications')] == []
    assert any(q.startswith('kvmfleet-scheduler') for q in queues)    # the listing works


def test_restarts_of_scheduler_and_agents_lose_nothing(stack):
    api = stack.api()
    before = {i['uuid']: (i['state'], i['host']) for i in api.list()['instances']}
    usage_before = _pcpus_used(api.hosts())
    assert stack.stop_scheduler() == 0
    stack.stop_agents()
    stack.start_scheduler()
    stack.wait_hosts_up(count=0)            # answers again (hosts still up from the store)
    stack.start_agents()                    # the simulated hypervisors kept their domains
    stack.wait_hosts_up()
    after = {i['uuid']: (i['state'], i['host']) for i in api.list()['instances']}
    changed = {u: api.show(u) for u in set(before) | set(after) if before.get(u) != after.get(u)}
    assert after == before, [(before.get(u), r['state'], r['reason'], r['attempts'])
                             for u, r in changed.items()]
    assert _pcpus_used(api.hosts()) == usage_before
    some = next(u for u, (state, _) in after.items() if state == 'ACTIVE')
    api.delete(some)
    assert stack.wait_settled([some], settled=('DELETED',))[some]['state'] == 'DELETED'
    booted = api.boot(dict(busfleet.SHARED, name='after-restart'))['instances'][0]['uuid']
    assert stack.wait_settled([booted])[booted]['state'] == 'ACTIVE'
    active = {i['uuid']: api.show(i['uuid']) for i in api.list(state='ACTIVE')['instances']}
    assert_nothing_held_twice(stack, active)


def _pcpus_used(answer):
    return {h['name']: sum(c['pcpus']['used'] for c in h['cells']) for h in answer['hosts']}
