"""The store's schema lifecycle on SQLite and PostgreSQL: sync, check, models == migrations."""

import threading

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from scheduler.store import Store, models, schema
from scheduler.store.database import make_engine


def synced(url):
    engine = make_engine(url)
    schema.sync(engine)
    return engine


def test_models_and_migrations_agree(database_url):
    # A column added to models.py without a revision (or the reverse) fails here.
    engine = synced(database_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), models.Base.metadata)
    engine.dispose()
    assert diff == []


def test_head_revision_is_the_schema_version_it_records(database_url):
    engine = synced(database_url)
    with engine.connect() as conn:
        recorded = conn.scalar(sa.select(sa.func.max(models.SchemaVersion.version)))
    engine.dispose()
    assert int(schema.head_revision()) == models.SCHEMA_VERSION == recorded


def test_sync_is_idempotent_and_check_passes_at_head(database_url):
    engine = make_engine(database_url)
    before, after = schema.sync(engine)
    assert (before.revision, before.has_tables, after) == (None, False, schema.head_revision())
    before, after = schema.sync(engine)
    assert before.revision == after == schema.head_revision()
    assert schema.check(engine).revision == schema.head_revision()
    engine.dispose()


def test_check_refuses_an_empty_database_and_names_the_command(database_url):
    engine = make_engine(database_url)
    with pytest.raises(schema.SchemaError) as caught:
        schema.check(engine, sync_command='kvmfleet-manage --config-file X db sync')
    engine.dispose()
    assert str(caught.value) == ('the database is empty: run `kvmfleet-manage --config-file X '
                                 'db sync` (or set [database] sync_on_startup = true)')


def test_check_refuses_a_schema_newer_than_the_code(database_url):
    engine = synced(database_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(schema.SchemaError) as caught:
        schema.check(engine)
    engine.dispose()
    message = str(caught.value)
    assert 'revision 9999' in message and 'newer than this kvmfleet' in message
    assert 'db sync' not in message     # syncing cannot help an old scheduler


def test_sync_refuses_foreign_tables_and_changes_nothing(database_url):
    engine = make_engine(database_url)
    with engine.begin() as conn:
        conn.execute(sa.text('CREATE TABLE hosts (name VARCHAR(10))'))
    with pytest.raises(schema.SchemaError) as caught:
        schema.sync(engine)
    message = str(caught.value)
    tables = set(sa.inspect(engine).get_table_names())
    engine.dispose()
    assert 'not a kvmfleet store' in message and 'nothing was changed' in message
    assert tables == {'hosts'}


def test_store_create_schema_is_sync_for_tests_and_tools(database_url):
    store = Store(database_url).create_schema().create_schema()
    assert store.check_schema() is store
    assert store.schema_version() == models.SCHEMA_VERSION
    store.dispose()


@pytest.mark.postgres
def test_concurrent_syncs_on_postgresql_migrate_once(private_postgres):
    # Several schedulers with sync_on_startup, or two operators: the advisory lock
    # serialises them; the second finds the schema at head and does nothing.
    engines = [make_engine(private_postgres) for _ in range(3)]
    results, errors = [], []

    def sync(engine):
        try:
            results.append(schema.sync(engine)[1])
        except Exception as exc:     # reported below, with the others
            errors.append(exc)
    threads = [threading.Thread(target=sync, args=(engine,)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    with engines[0].connect() as conn:
        versions = conn.execute(sa.text('SELECT version FROM schema_version '
                                        'ORDER BY version')).all()
    for engine in engines:
        engine.dispose()
    assert errors == []
    assert results == [schema.head_revision()] * 3
    # Each revision ran once: it recorded its number once.
    assert versions == [(v,) for v in range(1, models.SCHEMA_VERSION + 1)]
