"""Resize on the real RabbitMQ with the real scheduler process and simulated agents:
resize to another host then confirm, then revert, and a resize that stays on its host;
the store audited at each step (both claims held while RESIZED, nothing held twice),
the domains where the store says."""

import time

import pytest

from agent.domain import domain_name
from tests import busfleet
from tests.functional.bus_stack import running_stack
from tests.functional.test_bus_moves import overruns, running_on

pytestmark = pytest.mark.rabbit

HOSTS = busfleet.fleet(2, prefix='rs', pcpus_per_cell=8, pages_2m=512, vfs_per_cell=2)
BIGGER = {'vcpus': 4, 'memory_mb': 2048, 'extra_specs': {'hw:cpu_policy': 'dedicated'}}


@pytest.fixture(scope='module')
def stack(rabbit_url, tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp('resize'), HOSTS, report_interval=1,
                       down_time=5, hosts_per_connection=1) as stack:
        yield stack


def wait_state(api, uuid, states, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = api.show(uuid)
        if record['state'] in states and not record['task']:
            return record
        time.sleep(0.2)
    raise AssertionError(f"{uuid} still {record['state']} ({record['task']})")


def pcpus_held(stack, uuid):
    """{host: number of pCPUs} the store holds for ``uuid``."""
    store = stack.store()
    try:
        held = {}
        for host, kind, _key, owner in store.held_resources():
            if owner == uuid and kind == 'pcpu':
                held[host] = held.get(host, 0) + 1
        return held
    finally:
        store.dispose()


def domain_vcpus(stack, host, uuid):
    """The vCPUs of the assignment in the domain's own metadata on ``host``."""
    [domain] = [d for d in stack.manager(host).domains() if d['uuid'] == uuid]
    return domain['assignment']['vcpus']


def resized(stack, name):
    """An instance resized to another host (its own closed for the decision)."""
    api = stack.api()
    uuid = api.boot(dict(busfleet.PINNED, name=name))['instances'][0]['uuid']
    source = wait_state(api, uuid, ('ACTIVE',))['host']
    api.host_set_enabled(source, False, 'test placement')
    try:
        answer = api.resize(uuid, BIGGER)
    finally:
        api.host_set_enabled(source, True)
    assert (answer['kind'], answer['source_host']) == ('resize', source)
    record = wait_state(api, uuid, ('RESIZED', 'ERROR'))
    dest = answer['dest_host']
    assert (record['state'], record['host']) == ('RESIZED', dest) and dest != source
    assert pcpus_held(stack, uuid) == {source: 2, dest: 4}
    assert overruns(stack) == []
    states = {h: stack.manager(h).driver.conn.domain_state(domain_name(uuid))
              for h in (source, dest)}
    assert states == {source: 'shutoff', dest: 'running'}
    return api, uuid, source, dest


def test_resize_then_confirm_keeps_the_new_size_on_the_destination(stack):
    api, uuid, source, dest = resized(stack, 'confirmed')
    assert api.resize_confirm(uuid)['status'] == 'done'
    record = api.show(uuid)
    assert (record['state'], record['host'], record['spec']['vcpus']) == ('ACTIVE', dest, 4)
    assert pcpus_held(stack, uuid) == {dest: 4}
    deadline = time.monotonic() + 10
    while running_on(stack, uuid) != [dest]:
        assert time.monotonic() < deadline, running_on(stack, uuid)
        time.sleep(0.2)
    assert overruns(stack) == []
    api.delete(uuid)
    wait_state(api, uuid, ('DELETED',))


def test_resize_then_revert_goes_back_to_the_old_size_on_the_source(stack):
    api, uuid, source, dest = resized(stack, 'reverted')
    assert api.resize_revert(uuid)['status'] == 'reverted'
    record = api.show(uuid)
    assert (record['host'], record['spec']['vcpus']) == (source, 2)
    assert pcpus_held(stack, uuid) == {source: 2}
    deadline = time.monotonic() + 10
    while running_on(stack, uuid) != [source] or stack.manager(source).driver.conn \
            .domain_state(domain_name(uuid)) != 'running':
        assert time.monotonic() < deadline, running_on(stack, uuid)
        time.sleep(0.2)
    assert wait_state(api, uuid, ('ACTIVE',))['reason'] is None
    time.sleep(2)                       # a few reports later: nothing changed
    assert (api.show(uuid)['state'], api.show(uuid)['host']) == ('ACTIVE', source)
    assert overruns(stack) == []


def test_a_resize_that_fits_on_its_host_stays_there_then_reverts_and_confirms(stack):
    api = stack.api()
    uuid = api.boot(dict(busfleet.PINNED, name='in-place'))['instances'][0]['uuid']
    host = wait_state(api, uuid, ('ACTIVE',))['host']
    other = next(h for h in stack.host_names if h != host)
    conn = stack.manager(host).driver.conn
    api.host_set_enabled(other, False, 'test placement')
    try:
        for ending, vcpus in ((api.resize_revert, 2), (api.resize_confirm, 4)):
            answer = api.resize(uuid, BIGGER)
            assert answer['dest_host'] == host
            record = wait_state(api, uuid, ('RESIZED', 'ERROR'))
            assert (record['state'], record['host']) == ('RESIZED', host)
            assert pcpus_held(stack, uuid) == {host: 2 + 4}      # both, never shared
            assert domain_vcpus(stack, host, uuid) == 4
            assert overruns(stack) == []
            ending(uuid)
            deadline = time.monotonic() + 10
            while not (conn.domain_state(domain_name(uuid)) == 'running' and
                       domain_vcpus(stack, host, uuid) == vcpus):
                assert time.monotonic() < deadline
                time.sleep(0.2)
            assert api.show(uuid)['state'] == 'ACTIVE'
            assert pcpus_held(stack, uuid) == {host: vcpus}
            assert api.show(uuid)['spec']['vcpus'] == vcpus
            assert running_on(stack, uuid) == [host]
    finally:
        api.host_set_enabled(other, True)
    assert overruns(stack) == []
