"""[database] options and the start-up wait for a database that is down or still starting."""

import socket
import threading

import pytest
from oslo_config import cfg
from sqlalchemy.exc import OperationalError

from scheduler.store import database


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class Forwarder:
    """A TCP port that starts forwarding to PostgreSQL only when opened: a database
    that comes up while the scheduler waits."""

    def __init__(self, port, target=('127.0.0.1', 5432)):
        self.port, self.target, self.listener = port, target, None

    def open(self):
        self.listener = socket.create_server(('127.0.0.1', self.port))
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source, sink):
        with source, sink:
            while data := source.recv(65536):
                sink.sendall(data)

    def close(self):
        if self.listener:
            self.listener.close()


@pytest.mark.postgres
def test_start_waits_for_a_database_that_comes_up(postgres_url):
    forwarder = Forwarder(free_port())
    sleeps = []

    def sleep(seconds):       # the database "finishes starting" during the first wait
        sleeps.append(seconds)
        if len(sleeps) == 2:
            forwarder.open()
    url = postgres_url.replace(':5432/', f':{forwarder.port}/')
    engine = database.engines.create_engine(url, max_retries=0)
    try:
        database.wait_for_database(engine, max_retries=5, retry_interval=7, sleep=sleep)
        with engine.connect() as conn:
            assert conn.exec_driver_sql('SELECT 1').scalar() == 1
    finally:
        engine.dispose()
        forwarder.close()
    assert sleeps == [7, 7]


@pytest.mark.postgres
def test_a_refusal_that_waiting_cannot_cure_fails_at_once(postgres_url):
    sleeps = []
    engine = database.engines.create_engine(
        postgres_url.replace('root@', 'kvmfleet_no_such_role@'), max_retries=0)
    with pytest.raises(OperationalError, match='kvmfleet_no_such_role'):
        database.wait_for_database(engine, max_retries=5, retry_interval=7, sleep=sleeps.append)
    engine.dispose()
    assert sleeps == []


def test_settings_come_from_the_database_group():
    conf = cfg.ConfigOpts()
    database.register_opts(conf)
    database.register_opts(conf)       # idempotent: the scheduler and kvmfleet-manage both do
    conf([], project='kvmfleet-test', default_config_files=[])
    assert database.database_settings(conf) == database.DatabaseSettings(
        max_pool_size=10, max_overflow=20, max_retries=10, decisions_in_turn=True)
    conf.set_override('max_retries', -1, group='database')
    assert database.database_settings(conf).max_retries == -1
    assert conf.database.sync_on_startup is False


@pytest.mark.parametrize('url, missing', [
    ('sqlite:///{tmp}/absent.sqlite', True),
    ('sqlite:///{tmp}/present.sqlite', False),
    ('sqlite://', False),
    ('postgresql+psycopg2://root@127.0.0.1/kvmfleet', False),
])
def test_sqlite_file_missing(tmp_path, url, missing):
    (tmp_path / 'present.sqlite').touch()
    assert database.sqlite_file_missing(url.format(tmp=tmp_path)) is missing
