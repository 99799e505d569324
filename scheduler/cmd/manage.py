"""``kvmfleet-manage [--config-file F] db sync|version``: the operator's store commands.

Reads the scheduler's configuration (``[database]``).  ``db sync`` migrates the
database to this release's schema (idempotent; run it before starting the new
release's schedulers); ``db version`` prints the revision the database is at.
Exit codes: 0 done, 1 the database refused or is unreachable, 2 usage or
configuration error (see docs/operations.md).
"""

import sys

from oslo_config import cfg
from oslo_db import exception as db_exc
from sqlalchemy.exc import SQLAlchemyError

from scheduler.store import schema
from scheduler.store.database import (
    database_settings,
    default_connection,
    make_engine,
    register_opts,
    sqlite_file_missing,
)
from wire.version import version_line

PROJECT = 'kvmfleet'
PROG = 'kvmfleet-manage'


def db_sync(conf):
    """Migrate the database to this release's schema."""
    engine = make_engine(default_connection(conf), database_settings(conf))
    try:
        before, after = schema.sync(engine)
    finally:
        engine.dispose()
    print(f"database: {before.describe()} -> revision {after}"
          if before.revision != after else f"database: already at revision {after}")


def db_version(conf):
    """Print the database's revision (``empty`` for none); changes nothing."""
    url = default_connection(conf)
    if sqlite_file_missing(url):
        print('empty')
        return
    engine = make_engine(url, database_settings(conf))
    try:
        state = schema.current_state(engine)
    finally:
        engine.dispose()
    print(state.revision or state.describe())


def add_command_parsers(subparsers):
    db = subparsers.add_parser('db', help='Database schema commands.')
    actions = db.add_subparsers(dest='action', required=True, metavar='{sync,version}')
    actions.add_parser('sync', help="Migrate the database to this release's schema."
                       ).set_defaults(run=db_sync)
    actions.add_parser('version', help='Print the schema revision of the database.'
                       ).set_defaults(run=db_version)


CATEGORY = cfg.SubCommandOpt('category', title='Commands', handler=add_command_parsers,
                             help='What to manage.')


def main(argv=None, conf=None):
    """Entry point of ``kvmfleet-manage``; returns the exit code."""
    conf = cfg.CONF if conf is None else conf    # the global one: [DEFAULT] state_path
    register_opts(conf)
    if CATEGORY.dest not in conf:
        conf.register_cli_opt(CATEGORY)
    try:
        conf(sys.argv[1:] if argv is None else argv, project=PROJECT, prog=PROG,
             version=version_line(PROG))
    except (cfg.Error, ValueError) as exc:
        print(f"{PROG}: configuration: {exc}", file=sys.stderr)
        return 2
    try:
        conf.category.run(conf)
    except (schema.SchemaError, db_exc.DBError, SQLAlchemyError, OSError) as exc:
        print(f"{PROG}: {_one_line(exc)}", file=sys.stderr)
        return 1
    return 0


def _one_line(exc):
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


if __name__ == '__main__':
    sys.exit(main())
