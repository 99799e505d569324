"""The store's ``[database]`` options and engine.

oslo.db's engine creation, not its global enginefacade: each Store opens its own
URL with settings passed as a value, and tests and tools open several per process.

The options are oslo.db's (``connection``, pool, start-up retries, recycle
time), plus ``sync_on_startup``.  They reach the store as a DatabaseSettings
value (``database_settings(conf)``), never read from the global config inside.

PostgreSQL (and MySQL) engines are oslo.db's: its pool settings, pre-ping,
connection recycling, start-up retries and exception translation.  A SQLite
file keeps the engine the store always had: oslo.db gives a SQLite file a
NullPool (a new connection, and its PRAGMAs, on every checkout) and emits its
own BEGIN, which made each claim about 3 times slower (docs/benchmarks.md,
"Store engine"); only oslo.db's exception translation is added, so both backends
raise the same oslo_db exceptions.
"""

import dataclasses
import itertools
import logging
import os
import re
import time

from oslo_config import cfg
from oslo_db import exception as db_exc
from oslo_db import options as db_options
from oslo_db.sqlalchemy import engines, exc_filters
from sqlalchemy import create_engine, event, make_url
from sqlalchemy.exc import OperationalError

from wire.paths import state_path_of

LOG = logging.getLogger(__name__)
# A database that is down or still starting: worth waiting for.  Anything else (a wrong
# password, a missing database) fails at once.  oslo.db's own start-up retry only knows
# libpq's old wording ("could not connect to server") and never retried libpq >= 12.
TRANSIENT_CONNECT_ERROR = re.compile(
    r'Connection refused|could not connect to server|No such file or directory|'
    r'timeout expired|the database system is (starting up|shutting down|in recovery mode)')
# oslo.db's options the store honours (the sample lists only these).
HONOURED = ('connection', 'connection_parameters', 'max_pool_size', 'max_overflow',
            'pool_timeout', 'connection_recycle_time', 'max_retries', 'retry_interval',
            'connection_debug')

sync_opts = [
    cfg.BoolOpt('sync_on_startup', default=False,
                help='Migrate the database schema to this release when the scheduler '
                     'starts, instead of refusing to start on an empty or older schema. '
                     'Meant for throwaway single-scheduler setups; production runs '
                     '"kvmfleet-manage db sync" before starting new schedulers.'),
    cfg.BoolOpt('decisions_in_turn', default=True,
                help='Schedulers sharing a PostgreSQL database take turns to decide: each '
                     'holds an advisory lock from the catch-up before a decision to the '
                     'commit of its claims, so no decision is taken on a view another '
                     'scheduler is about to make stale (without it, two schedulers under '
                     'load refit about a fifth of their claims: they race for the same best '
                     'host). Receiving, answering and casting still run in parallel. No '
                     'effect on SQLite.'),
]


def register_opts(conf):
    """oslo.db's [database] options (with the store's pool defaults) and ours."""
    # On the option objects, so the sample shows them too (30 connections at most,
    # what the store always allowed).
    cfg.set_defaults(db_options.database_opts, max_pool_size=10, max_overflow=20)
    db_options.set_defaults(conf)
    conf.register_opts(sync_opts, group='database')


register_opts(cfg.CONF)


def list_opts():
    honoured = [opt for opt in db_options.database_opts if opt.dest in HONOURED]
    return [('database', honoured + sync_opts)]


@dataclasses.dataclass(frozen=True)
class DatabaseSettings:
    """How to open the store's database; the defaults connect once, no retries."""
    max_pool_size: int | None = 10
    max_overflow: int | None = 20
    pool_timeout: int | None = None
    connection_recycle_time: int = 3600
    max_retries: int = 0
    retry_interval: int = 10
    connection_debug: int = 0
    connection_parameters: str = ''
    decisions_in_turn: bool = False     # scheduler/store/turns.py


def database_settings(conf=cfg.CONF):
    """DatabaseSettings from conf's [database] group."""
    group = conf.database
    return DatabaseSettings(**{field.name: group[field.name]
                               for field in dataclasses.fields(DatabaseSettings)})


def default_connection(conf=cfg.CONF):
    """[database] connection, or a SQLite file under the state path."""
    if conf.database.connection:
        return conf.database.connection
    return f"sqlite:///{os.path.join(state_path_of(conf), 'kvmfleet.sqlite')}"


def is_sqlite(url):
    return url.startswith('sqlite')


def sqlite_file_missing(url):
    """True for a SQLite URL whose file does not exist (opening it would create it)."""
    path = make_url(url).database if is_sqlite(url) else None
    return bool(path) and path != ':memory:' and not os.path.exists(path)


def make_engine(url, settings=None):
    """The engine for ``url``; a server database is retried as settings say."""
    if is_sqlite(url):
        return _sqlite_engine(url)
    settings = settings or DatabaseSettings()
    engine = engines.create_engine(
        url, max_pool_size=settings.max_pool_size, max_overflow=settings.max_overflow,
        pool_timeout=settings.pool_timeout,
        connection_recycle_time=settings.connection_recycle_time, max_retries=0,
        connection_debug=settings.connection_debug,
        connection_parameters=settings.connection_parameters or None)
    wait_for_database(engine, settings.max_retries, settings.retry_interval)
    return engine


def wait_for_database(engine, max_retries, retry_interval, sleep=time.sleep):
    """Connect once, trying up to ``max_retries`` times (-1: forever, 0: not now)
    while the database is down or starting; the last error is raised."""
    attempts = itertools.count(1) if max_retries == -1 else range(1, max_retries + 1)
    for attempt in attempts:
        try:
            with engine.connect():
                return
        except (db_exc.DBConnectionError, OperationalError) as exc:
            if attempt == max_retries or not TRANSIENT_CONNECT_ERROR.search(str(exc)):
                raise
            LOG.warning('Database %s not reachable (attempt %d of %s), next try in %ss: %s',
                        engine.url.render_as_string(hide_password=True), attempt,
                        'unlimited' if max_retries == -1 else max_retries, retry_interval,
                        str(exc).strip().splitlines()[0])
        sleep(retry_interval)


def _sqlite_engine(url):
    path = make_url(url).database
    if path and path != ':memory:':
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    engine = create_engine(url, connect_args={'timeout': 30, 'check_same_thread': False})
    event.listen(engine, 'connect', _sqlite_pragmas)
    # Only the translation of errors (it runs on an error alone): oslo.db's full
    # register_engine also hooks every commit, rollback and checkin, +15-30% CPU a claim.
    event.listen(engine, 'handle_error', exc_filters.handler, retval=True)
    return engine


def _sqlite_pragmas(dbapi_connection, _record):
    # WAL lets readers run beside the one writer; NORMAL sync is durable across
    # process crashes (what a scheduler restart needs) at a fraction of the cost.
    cursor = dbapi_connection.cursor()
    cursor.execute('PRAGMA journal_mode=WAL')
    cursor.execute('PRAGMA synchronous=NORMAL')
    cursor.execute('PRAGMA foreign_keys=ON')
    cursor.close()
