"""Moves on the real RabbitMQ with the real scheduler process and simulated agents:
a drain of 20 pinned/hugepage/SR-IOV guests with the store audited throughout, a
destination that refuses, a destination agent that is gone, and an evacuation whose
old host comes back."""

import threading
import time

import pytest

from agent.domain import domain_name
from scheduler.engine import EngineSettings
from scheduler.fitting import audit
from tests import busfleet
from tests.functional.bus_stack import running_stack
from wire import rpc
from wire.topology import HostTopology

pytestmark = pytest.mark.rabbit

SHAPE = {'pcpus_per_cell': 24, 'pages_2m': 2048, 'vfs_per_cell': 4}
HOSTS = busfleet.fleet(5, prefix='mv', **SHAPE)
DOWN_TIME = 5
EXTRA = """[scheduler]
migration_prepare_timeout = 3
drain_concurrency = 4
"""


@pytest.fixture(scope='module')
def stack(rabbit_url, tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp('moves'), HOSTS, report_interval=1,
                       down_time=DOWN_TIME, hosts_per_connection=1,
                       extra_config=EXTRA) as stack:
        yield stack


def boot_on(stack, host, count, prefix):
    """``count`` mixed guests, all on ``host`` (the others disabled meanwhile), ACTIVE."""
    api = stack.api()
    others = [h for h in stack.host_names if h != host]
    for name in others:
        api.host_set_enabled(name, False, 'test placement')
    try:
        uuids = [api.boot(dict(request, name=f"{prefix}-{i}"))['instances'][0]['uuid']
                 for i, request in enumerate(
                     busfleet.MIXED[:3][i % 3] for i in range(count))]
    finally:
        for name in others:
            api.host_set_enabled(name, True)
    settled = stack.wait_settled(uuids)
    assert {s['state'] for s in settled.values()} == {'ACTIVE'}
    assert {s['host'] for s in settled.values()} == {host}
    return uuids


def overruns(stack):
    """What the store holds beyond any pool, both sides of every move included."""
    store, policy = stack.store(), EngineSettings().fit_policy()
    try:
        lines = []
        for record in store.list_hosts():
            topology = HostTopology.from_dict(dict(record.topology, instances=[]))
            held = [h.assignment for h in store.held_instances(record.name)]
            held += [h.assignment for h in store.move_claims(record.name)]
            lines += [f"{record.name}: {line}"
                      for line in audit.overruns(topology, policy, held)]
        rows = store.held_resources()
        if len(rows) != len({row[:3] for row in rows}):
            lines.append('a resource row is held twice')
        return lines
    finally:
        store.dispose()


def running_on(stack, uuid):
    """Hosts whose libvirt has the instance's domain."""
    return [m.host_name for m in stack.managers
            if m.driver.conn.domain_state(domain_name(uuid)) is not None]


def test_drain_of_20_guests_moves_each_once_and_never_holds_a_resource_twice(stack):
    source = 'mv-0000'
    uuids = boot_on(stack, source, 20, 'drain')
    api = stack.api()
    audits, stop = [], threading.Event()

    def auditor():
        while not stop.is_set():
            audits.append(overruns(stack))
    thread = threading.Thread(target=auditor)
    thread.start()
    try:
        progress = api.host_drain(source)
        assert progress['total'] == 20
        deadline = time.monotonic() + 90
        while not progress['done'] and time.monotonic() < deadline:
            time.sleep(0.3)
            progress = api.drain_status(source)
    finally:
        stop.set()
        thread.join(30)
    assert progress['done'] and progress['failed'] == {}, progress['failed']
    assert sorted(progress['moved']) == sorted(uuids)
    assert len(audits) > 3 and [a for a in audits if a] == []
    settled = stack.wait_settled(uuids)
    assert all(s['state'] == 'ACTIVE' and s['host'] != source for s in settled.values())
    assert all(running_on(stack, u) == [settled[u]['host']] for u in uuids)
    kinds = {m['kind'] for m in api.migrations(host=source)['migrations']}
    assert kinds == {'live'}
    assert not next(h for h in api.hosts()['hosts'] if h['name'] == source)['enabled']
    api.host_set_enabled(source, True)


def test_a_destination_that_refuses_rolls_back_cleanly(stack):
    [uuid] = boot_on(stack, 'mv-0001', 1, 'refused')
    api = stack.api()
    before = sorted(stack.store().held_resources())
    # A leftover domain with the instance's name on the destination: prepare refuses.
    dest = stack.manager('mv-0002').driver.conn
    dest.define_domain(f"<domain type='test'><name>{domain_name(uuid)}</name>"
                       "<memory>1024</memory><os><type>hvm</type></os></domain>")
    try:
        answer = api.migrate(uuid, live=True, host='mv-0002')
        assert answer['request_id'].startswith('req-')     # the logs' id of this call
        migration = wait_migration(api, answer['uuid'])
    finally:
        dest.undefine_domain(domain_name(uuid))
    assert migration['status'] == 'failed' and 'ALREADY_EXISTS' in migration['reason']
    record = api.show(uuid)
    assert (record['state'], record['host'], record['task']) == ('ACTIVE', 'mv-0001', None)
    assert 'ALREADY_EXISTS' in record['reason']
    assert sorted(stack.store().held_resources()) == before
    assert running_on(stack, uuid) == ['mv-0001']


def wait_migration(api, migration, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        [record] = [m for m in api.migrations()['migrations'] if m['uuid'] == migration]
        if record['status'] in ('done', 'failed'):
            return record
        time.sleep(0.2)
    raise AssertionError(f"migration {migration} still {record['status']}")


def test_a_destination_agent_that_is_gone_leaves_the_guest_on_its_source(stack):
    [uuid] = boot_on(stack, 'mv-0003', 1, 'orphan')
    api = stack.api()
    index = stack.host_names.index('mv-0004')
    stack.servers[index].stop()       # the agent of mv-0004 stops answering
    try:
        answer = api.migrate(uuid, live=True, host='mv-0004')
        migration = wait_migration(api, answer['uuid'])
    finally:
        restart_server(stack, index)
    assert migration['status'] == 'failed' and 'did not prepare' in migration['reason']
    record = api.show(uuid)
    assert (record['state'], record['host']) == ('ACTIVE', 'mv-0003')
    assert running_on(stack, uuid) == ['mv-0003']
    assert not [r for r in stack.store().held_resources() if r[0] == 'mv-0004'
                and r[3] == uuid]


def restart_server(stack, index):
    from agent import simulated
    stack.servers[index].wait()
    server = simulated.group_server([stack.managers[index]])
    server.start()
    stack.servers[index] = server


def test_evacuation_then_the_old_host_returns_and_removes_its_stale_copies(stack):
    dead = 'mv-0000'     # emptied by the drain
    uuids = boot_on(stack, dead, 6, 'evac')
    api = stack.api()
    index = stack.host_names.index(dead)
    manager = stack.managers[index]
    stack.reporter.managers.remove(manager)         # the host stops reporting
    stack.servers[index].stop()
    with pytest.raises(rpc.BusError, match='is up'):
        api.evacuate(dead)
    deadline = time.monotonic() + DOWN_TIME * 4
    while next(h for h in api.hosts()['hosts'] if h['name'] == dead)['up']:
        assert time.monotonic() < deadline, 'the host never went down'
        time.sleep(0.3)
    answer = api.evacuate(dead)
    assert sorted(m['instance_uuid'] for m in answer['migrations']) == sorted(uuids)
    settled = stack.wait_settled(uuids)
    assert all(s['state'] == 'ACTIVE' and s['host'] != dead for s in settled.values())
    assert all(sorted(running_on(stack, u)) == sorted([dead, settled[u]['host']])
               for u in uuids)                     # the dead host still runs its copies
    # The old host comes back: it destroys the stale copies before it reports.
    restart_server(stack, index)
    manager.startup()
    stack.reporter.managers.append(manager)
    assert all(running_on(stack, u) == [settled[u]['host']] for u in uuids)
    time.sleep(3)                                   # a few reports later: nothing changed
    after = {u: api.show(u) for u in uuids}
    assert all((a['state'], a['host']) == ('ACTIVE', settled[u]['host'])
               for u, a in after.items())
    assert overruns(stack) == []
