"""The store's schema lifecycle: which revision a database is at, and ``db sync``.

Alembic's ``alembic_version`` table is the record of the schema; revisions are
named by number (``0001``, ``0002``, ...) and revision NNNN also writes NNNN
into the older ``schema_version`` table (``models.SCHEMA_VERSION`` is the
head's number), which schedulers from before migrations check at start.

A database made before migrations (tables and ``schema_version`` 1, no
``alembic_version``) is stamped at revision 0001 by sync, then upgraded.  The
scheduler itself never changes the schema unless ``[database]
sync_on_startup`` says so: ``check()`` names the command to run instead.
"""

import dataclasses

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError

from scheduler.store import models

SCRIPT_LOCATION = 'scheduler.store:migrations'
LEGACY_REVISION = '0001'      # what schema_version 1 (before migrations) is
# One migrator at a time on PostgreSQL (several schedulers with sync_on_startup).
_PG_LOCK_KEY = int.from_bytes(b'kvmfleet', 'big') >> 1
SYNC_COMMAND = 'kvmfleet-manage db sync'


class SchemaError(RuntimeError):
    """The database is not at the schema this kvmfleet runs on; one line for operators."""


@dataclasses.dataclass(frozen=True)
class SchemaState:
    revision: str | None         # alembic_version, None when absent
    legacy_version: int | None   # schema_version of a database made before migrations
    has_tables: bool

    def describe(self):
        if self.revision:
            return f"revision {self.revision}"
        if self.legacy_version is not None:
            return f"schema_version {self.legacy_version} (before migrations)"
        return 'an unknown schema' if self.has_tables else 'empty'


def _config(connection=None):
    config = Config()
    config.set_main_option('script_location', SCRIPT_LOCATION)
    config.attributes['connection'] = connection
    return config


def _scripts():
    return ScriptDirectory.from_config(_config())


def head_revision():
    """The revision this code runs on."""
    return _scripts().get_current_head()


def read_state(connection):
    """SchemaState of the database behind ``connection`` (reads only)."""
    tables = set(sa.inspect(connection).get_table_names())
    revision = MigrationContext.configure(connection).get_current_revision()
    legacy = None
    if revision is None and 'schema_version' in tables:
        legacy = connection.scalar(sa.select(sa.func.max(models.SchemaVersion.version)))
    return SchemaState(revision, legacy, bool(tables - {'alembic_version'}))


def current_state(engine):
    with engine.connect() as connection:
        return read_state(connection)


def sync(engine, revision='head'):
    """Migrate the database to ``revision``; returns (state before, revision after)."""
    with engine.begin() as connection:
        if connection.dialect.name == 'postgresql':
            connection.execute(sa.text('SELECT pg_advisory_xact_lock(:key)'),
                               {'key': _PG_LOCK_KEY})
        before = read_state(connection)
        config = _config(connection)
        if before.revision is None and before.has_tables:
            if before.legacy_version != 1:
                raise SchemaError(f"the database holds {before.describe()}, not a kvmfleet "
                                  f"store this release can migrate; nothing was changed")
            command.stamp(config, LEGACY_REVISION)
        try:
            command.upgrade(config, revision)
        except CommandError as exc:
            raise SchemaError(f"cannot migrate from {before.describe()}: {exc}") from None
        return before, MigrationContext.configure(connection).get_current_revision()


def check(engine, sync_command=SYNC_COMMAND):
    """Raise SchemaError unless the database is at this code's head revision."""
    state, head = current_state(engine), head_revision()
    if state.revision == head:
        return state
    if state.revision is not None and not _is_known(state.revision):
        raise SchemaError(f"the database schema ({state.describe()}) is newer than this "
                          f"kvmfleet ({head}): run a kvmfleet release that knows it")
    what = ('is empty' if not state.has_tables and state.revision is None
            else f"is at {state.describe()}, this kvmfleet needs revision {head}")
    raise SchemaError(f"the database {what}: run `{sync_command}` "
                      f"(or set [database] sync_on_startup = true)")


def _is_known(revision):
    try:
        return _scripts().get_revision(revision) is not None
    except CommandError:
        return False
