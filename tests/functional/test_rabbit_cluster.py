"""The services on a real 3-node RabbitMQ cluster with quorum queues.

The cluster runs beside the machine's broker (tests/functional/rabbit_cluster.py);
the scheduler process and the simulated agents reach it through one transport
URL naming all three nodes and declare quorum queues.  Stopping the node the
scheduler is connected to, while clients boot, loses no request and no result:
every boot ends ACTIVE or in ERROR with a reason, and no pool is over-committed.
"""

import os
import threading
import time
import uuid as uuidlib

import psutil
import pytest

from tests import busfleet
from tests.conftest import missing_service
from tests.functional.bus_stack import running_stack
from tests.functional.rabbit_cluster import RABBITMQ_SERVER, RabbitCluster
from tests.unit.scheduler.test_claims import store_overruns
from wire import rpc

pytestmark = pytest.mark.rabbit

CLIENTS, BOOTS_PER_CLIENT, ATTEMPTS = 3, 16, 6
REQUESTS = (busfleet.PINNED, busfleet.HUGE, busfleet.SHARED)


@pytest.fixture(scope='module')
def cluster(tmp_path_factory):
    if not os.access(RABBITMQ_SERVER, os.X_OK):
        missing_service(f"{RABBITMQ_SERVER} not installed (tools/setup-host.sh)")
    cluster = RabbitCluster(tmp_path_factory.mktemp('rabbit-cluster'))
    try:
        yield cluster.start()
    finally:
        cluster.stop()


@pytest.fixture(scope='module')
def stack(cluster, tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp('cluster-stack'), busfleet.fleet(6, prefix='rq'),
                       broker=cluster, report_interval=1) as stack:
        yield stack


def queue_types(stack):
    result = stack.rabbitmqctl('list_queues', '-p', stack.vhost, '--no-table-headers',
                               '--quiet', 'name', 'type')
    assert result.returncode == 0, result.stderr
    return dict(line.split('\t') for line in result.stdout.splitlines() if '\t' in line)


def scheduler_node(stack, cluster):
    """The node most of the scheduler process's AMQP connections go to."""
    ports = [c.raddr.port for c in psutil.Process(stack.scheduler.pid).net_connections('tcp')
             if c.raddr and c.raddr.port in {n.port for n in cluster.nodes}]
    assert ports, 'the scheduler has no connection to the cluster'
    return cluster.node_on_port(max(set(ports), key=ports.count))


def boot_with_retries(api, request, uuid):
    """Boot with a caller-chosen uuid; a timed-out call is retried with the same uuid."""
    for _ in range(ATTEMPTS):
        try:
            return api.boot(request, instance_uuids=[uuid])['instances'][0]
        except rpc.BusError as exc:
            if exc.code == rpc.NO_VALID_HOST:
                return {'uuid': uuid, 'state': 'ERROR', 'reason': exc.one_line()}
            raise
        except Exception:   # MessagingTimeout, a connection lost with its node
            time.sleep(0.5)
    raise AssertionError(f"boot {uuid}: no answer in {ATTEMPTS} attempts")


def client(stack, index, uuids, errors, started):
    api = stack.api(timeout=8)
    for number in range(BOOTS_PER_CLIENT):
        template = REQUESTS[number % len(REQUESTS)]
        uuid = str(uuidlib.uuid4())
        uuids.append(uuid)
        try:
            boot_with_retries(api, dict(template, name=f"c{index}-{number}"), uuid)
        except Exception as exc:
            errors.append(f"{uuid}: {exc}")
        started.release()


def test_queues_are_quorum_queues_and_boots_succeed(stack):
    api = stack.api()
    uuid = api.boot(dict(busfleet.PINNED, name='first'))['instances'][0]['uuid']
    assert stack.wait_settled([uuid])[uuid]['state'] == 'ACTIVE'
    types = queue_types(stack)
    for name in ('kvmfleet-scheduler', 'kvmfleet-agent', 'kvmfleet-agent.rq-0000'):
        assert types.get(name) == 'quorum', types
    assert set(types.values()) == {'quorum'}        # replies and fanouts too


def test_stopping_the_schedulers_node_under_boots_loses_no_request_and_no_result(
        stack, cluster):
    node = scheduler_node(stack, cluster)
    uuids, errors, started = [], [], threading.Semaphore(0)
    clients = [threading.Thread(target=client, args=(stack, c, uuids, errors, started))
               for c in range(CLIENTS)]
    for thread in clients:
        thread.start()
    for _ in range(CLIENTS * BOOTS_PER_CLIENT // 3):   # a third of the boots sent
        assert started.acquire(timeout=60)
    node.stop(remove_data=False)
    try:
        for thread in clients:
            thread.join(120)
        assert errors == []
        assert len(uuids) == CLIENTS * BOOTS_PER_CLIENT
        final = stack.wait_settled(uuids, timeout=60)
        assert len(final) == len(uuids)
        assert all(r['state'] in ('ACTIVE', 'ERROR') for r in final.values())
        assert [r for r in final.values() if r['state'] == 'ERROR' and not r['reason']] == []
        assert sum(r['state'] == 'ACTIVE' for r in final.values()) >= len(uuids) // 2
        assert scheduler_node(stack, cluster) is not node    # it failed over
        assert store_overruns(stack.store()) == []
    finally:     # back in the cluster (a vhost is not deleted while a member is down)
        node.start()
