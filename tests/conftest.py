"""Suite-wide helpers: where the shared fixtures live, and real-service gating.

Tests that need a real broker, database or libvirtd skip when the service is
absent on a developer's machine, and fail in CI, where
KVMFLEET_TEST_REQUIRE_SERVICES=1 (tools/run-tests.sh sets it).
"""

import contextlib
import os
import pathlib
import socket
import uuid as uuidlib

import pytest
import sqlalchemy

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED_FIXTURES = REPO_ROOT.parent / 'shared' / 'fixtures'


def services_required():
    return os.environ.get('KVMFLEET_TEST_REQUIRE_SERVICES') == '1'


def missing_service(reason):
    """Skip on a developer machine, fail in CI: the suite must not hide gaps."""
    if services_required():
        pytest.fail(f"required by the suite but missing: {reason}")
    pytest.skip(reason)


def port_open(port, host='127.0.0.1', timeout=0.5):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


@pytest.fixture(scope='session')
def shared_fixtures():
    """The real libvirt captures beside the repo (never copied into it)."""
    if not SHARED_FIXTURES.is_dir():
        missing_service(f"shared fixtures not found at {SHARED_FIXTURES}")
    return SHARED_FIXTURES


@pytest.fixture(scope='session')
def rabbit_url():
    if not port_open(5672):
        missing_service('RabbitMQ is not listening on 127.0.0.1:5672')
    return 'rabbit://guest:guest@127.0.0.1:5672/'


@pytest.fixture(scope='session')
def postgres_url():
    if not port_open(5432):
        missing_service('PostgreSQL is not listening on 127.0.0.1:5432')
    return 'postgresql+psycopg2://root@127.0.0.1:5432/kvmfleet_test'


@contextlib.contextmanager
def postgres_schema(postgres_url, prefix):
    """The URL of a new, empty PostgreSQL schema (dropped afterwards): tests running at
    the same time on the shared server never meet."""
    schema = f"{prefix}_{uuidlib.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(postgres_url)
    try:
        with admin.begin() as conn:
            conn.execute(sqlalchemy.text(f'CREATE SCHEMA "{schema}"'))
    except sqlalchemy.exc.OperationalError as exc:
        pytest.fail(f"PostgreSQL kvmfleet_test is not usable: {exc}")
    try:
        yield f"{postgres_url}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sqlalchemy.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
