"""Two real schedulers on one PostgreSQL store and the real RabbitMQ: each decision of one
sees the claims and releases the other made (no conflict, no refit), and ``hosts`` and
``show`` answer alike whichever scheduler is asked."""

import time

import pytest

from tests import busfleet
from tests.conftest import postgres_schema
from tests.functional.bus_stack import Stack
from tests.functional.multi_scheduler import Schedulers, comparable, store_views
from wire import rpc

pytestmark = pytest.mark.postgres

# One host, one cell of 4 dedicated pCPUs: two pinned guests of 2 fill it, and a view
# that missed the first claim would place the second on the same pCPUs.
HOST = busfleet.host('views-h1', cells=1, pcpus_per_cell=4, vfs_per_cell=0)


@pytest.fixture
def two_schedulers(rabbit_url, postgres_url, tmp_path):
    # Liveness checks every 100 s: only each decision's own catch-up can see the other's
    # claims during the test.
    stack = Stack(tmp_path, [HOST], down_time=600)
    stack.create_vhost()
    schedulers = None
    try:
        with postgres_schema(postgres_url, 'kvmfleet_views_test') as database_url:
            schedulers = Schedulers(stack, 2, database_url)
            schedulers.start()
            stack.start_agents()
            for index in range(2):
                wait_up(schedulers.api(index, timeout=30))
            yield stack, schedulers, database_url
    finally:
        stack.stop_agents()
        if schedulers is not None:
            schedulers.stop()
        stack.close()


def wait_up(api, timeout=60):
    """Until ``api``'s scheduler sees the host up (its ``hosts`` follows the store)."""
    deadline = time.monotonic() + timeout
    while not any(h['up'] for h in api.hosts()['hosts']):
        assert time.monotonic() < deadline, 'the host never came up'
        time.sleep(0.3)


def boot(api, name):
    answer = api.boot(dict(busfleet.PINNED, name=name))
    [instance] = answer['instances']
    return instance


def pcpus(instance):
    return set(instance['assignment']['cells'][0]['pinning'].values())


def test_each_scheduler_decides_on_the_others_claims_and_releases(two_schedulers):
    stack, schedulers, database_url = two_schedulers
    first, second = schedulers.api(0, timeout=60), schedulers.api(1, timeout=60)
    by_first = boot(first, 'by-first')
    by_second = boot(second, 'by-second')         # decided on a view with by-first's claim
    assert pcpus(by_first).isdisjoint(pcpus(by_second))
    with pytest.raises(rpc.BusError) as caught:   # the host is full, and first knows it
        boot(first, 'one-too-many')
    assert caught.value.code == rpc.NO_VALID_HOST
    stack.wait_settled([by_first['uuid'], by_second['uuid']])
    first.delete(by_second['uuid'])
    stack.wait_settled([by_second['uuid']], settled=('DELETED',))
    again = boot(second, 'again')                # the release is seen: it fits at once
    assert pcpus(again) == pcpus(by_second)
    stack.wait_settled([again['uuid']])
    for index in range(2):
        assert schedulers.claims(index).get('conflict', 0) == 0, schedulers.claims(index)
    assert sum(schedulers.claims(i).get('claimed', 0) for i in range(2)) == 3

    answers = [{h['name']: comparable(h) for h in api.hosts()['hosts']}
               for api in (first, second)]
    from scheduler.store import Store
    store = Store(database_url)
    try:
        truth = {name: comparable(view) for name, view in store_views(store).items()}
    finally:
        store.dispose()
    assert answers[0] == answers[1] == truth
    assert truth['views-h1']['instances'] == 2
    for uuid in (by_first['uuid'], again['uuid'], by_second['uuid']):
        assert first.show(uuid) == second.show(uuid)
