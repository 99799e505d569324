"""Fresh databases for schema tests: a SQLite file, or a private PostgreSQL schema."""

import pytest

from tests.conftest import postgres_schema


@pytest.fixture
def private_postgres(postgres_url):
    """The URL of a new, empty schema in kvmfleet_test."""
    with postgres_schema(postgres_url, 'kvmfleet_schema_test') as url:
        yield url


@pytest.fixture(params=['sqlite', pytest.param('postgres', marks=pytest.mark.postgres)])
def database_url(request, tmp_path):
    """An empty database on each backend."""
    if request.param == 'sqlite':
        return f"sqlite:///{tmp_path}/kvmfleet.sqlite"
    return request.getfixturevalue('private_postgres')
