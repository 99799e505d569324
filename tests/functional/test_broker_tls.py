"""TLS to RabbitMQ: a real node with a TLS-only listener and certificates made by the suite.

A plaintext AMQP client gets no session, a client that does not trust the CA is
refused, and the scheduler and the agents configured with [oslo_messaging_rabbit]
ssl / ssl_ca_file boot an instance over it, every connection encrypted.
"""

import os
import socket
import ssl

import amqp
import pytest

from tests import busfleet
from tests.conftest import missing_service
from tests.functional.bus_stack import running_stack
from tests.functional.rabbit_cluster import RABBITMQ_SERVER
from tests.functional.tls_broker import TlsBroker

pytestmark = pytest.mark.rabbit


@pytest.fixture(scope='module')
def tls_broker(tmp_path_factory):
    if not os.access(RABBITMQ_SERVER, os.X_OK):
        missing_service(f"{RABBITMQ_SERVER} not installed (tools/setup-host.sh)")
    broker = TlsBroker(tmp_path_factory.mktemp('tls-broker')).start()
    try:
        yield broker
    finally:
        broker.stop()


def amqp_connection(broker, ssl_options=None):
    connection = amqp.Connection(host=f"localhost:{broker.port}", userid='guest',
                                 password='guest', ssl=ssl_options or False, connect_timeout=5)
    connection.connect()
    return connection


def trusting(broker):
    return {'ca_certs': str(broker.certs['ca']), 'cert_reqs': ssl.CERT_REQUIRED,
            'server_hostname': 'localhost'}


def test_a_client_trusting_the_ca_gets_an_amqp_session_over_tls(tls_broker):
    connection = amqp_connection(tls_broker, trusting(tls_broker))
    try:
        assert connection.server_properties['product'] == 'RabbitMQ'
    finally:
        connection.close()


def test_the_tls_listener_refuses_a_plaintext_client(tls_broker):
    with socket.create_connection(('127.0.0.1', tls_broker.port), timeout=5):
        pass                                   # the port is open: the refusal is TLS's
    with pytest.raises((OSError, amqp.exceptions.AMQPError)) as excinfo:
        amqp_connection(tls_broker)
    assert not isinstance(excinfo.value, ssl.SSLError)


def test_a_client_that_does_not_trust_the_ca_is_refused(tls_broker):
    untrusting = {'cert_reqs': ssl.CERT_REQUIRED, 'server_hostname': 'localhost',
                  'ca_certs': ssl.get_default_verify_paths().cafile or None}
    with pytest.raises(ssl.SSLCertVerificationError, match='certificate verify failed'):
        amqp_connection(tls_broker, untrusting)


def test_scheduler_and_agents_boot_over_tls(tls_broker, tmp_path):
    hosts = busfleet.fleet(2, prefix='tls')
    with running_stack(tmp_path, hosts, broker=tls_broker) as stack:
        uuid = stack.api().boot(busfleet.request(busfleet.PINNED, name='over-tls'))[
            'instances'][0]['uuid']
        assert stack.wait_settled([uuid])[uuid]['state'] == 'ACTIVE'
        listed = tls_broker.rabbitmqctl('list_connections', 'vhost', 'ssl', 'peer_port')
        rows = [line.split('\t') for line in listed.stdout.splitlines()
                if line.startswith(stack.vhost)]
        assert len(rows) >= 2                   # the scheduler process and this one's agents
        assert all(row[1] == 'true' for row in rows), rows
