"""The hosts' change stamp: how a scheduler learns cheaply what the others wrote.

Every write that changes what a scheduler's view holds of a host (a claim, a
release, a move's claim or end, a new topology, enabled/disabled, a new host)
sets ``hosts.changed_seq`` to ``change_stamp()``.  Before each decision a
scheduler asks for the hosts whose stamp is at or past its *cursor*, and gets
in the same statement the *horizon*, its next cursor: one indexed query that
usually returns only the hosts changed since its last look
(``HOST_CHANGES``).

The rule both backends keep: **a change not visible to the statement that read
the horizon is stamped at or past that horizon**, so no change is ever skipped.

- PostgreSQL: the stamp is the writing transaction's id (``txid_current()``,
  64 bits, never wraps) and the horizon the xmin of the reading statement's
  snapshot (the oldest transaction still running then).  A sequence would not
  do: a transaction may take value 10, another 11 and commit first; a reader
  that saw 11 and moved past it would never see 10.  Transaction ids have the
  same race, but the snapshot's xmin names it: every transaction whose writes
  the snapshot does not see was running then (id >= xmin) or began later (id >=
  xmax >= xmin).  A row's stamp is its last writer's id, and writers of one row
  are serialized by its lock, so an unseen change is never hidden behind an
  older stamp.  The price is an overlap: changes committed since xmin are read
  again (and skipped, their generation already known); a long transaction
  anywhere on the server widens it, never breaks it.
- SQLite (one writer at a time, the stamp computed inside the writing
  statement): the stamp is the largest stamp plus one, the horizon the same
  expression, so commit order is stamp order.  Hosts are never deleted, so
  the largest stamp never goes back.
"""

import threading

from oslo_db import exception as db_exc
from sqlalchemy import BigInteger, bindparam, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from scheduler.store import models

HOSTS = models.Host.__table__
_NEXT_STAMP = '(SELECT coalesce(max(changed_seq), 0) + 1 FROM hosts)'


class change_stamp(FunctionElement):   # noqa: N801 (an SQL function, named like one)
    """The stamp a write sets ``hosts.changed_seq`` to."""

    type = BigInteger()
    inherit_cache = True


class change_horizon(FunctionElement):   # noqa: N801
    """The reading statement's horizon: every change it cannot see is stamped at or past it."""

    type = BigInteger()
    inherit_cache = True


@compiles(change_stamp)
@compiles(change_horizon)
def _serialized_writers(element, compiler, **kw):
    return _NEXT_STAMP


@compiles(change_stamp, 'postgresql')
def _transaction_id(element, compiler, **kw):
    return 'txid_current()'


@compiles(change_horizon, 'postgresql')
def _snapshot_xmin(element, compiler, **kw):
    return 'txid_snapshot_xmin(txid_current_snapshot())'


_horizon = select(change_horizon().label('horizon')).subquery('horizon')
# (horizon, name, generation, enabled) per host stamped at or past :since; one row
# (horizon, None, None, None) when there is none.
HOST_CHANGES = (select(_horizon.c.horizon, HOSTS.c.name, HOSTS.c.generation, HOSTS.c.enabled)
                .select_from(_horizon.outerjoin(
                    HOSTS, HOSTS.c.changed_seq >= bindparam('since', type_=BigInteger()))))
HORIZON = select(change_horizon())


class ChangeReader:
    """Runs ``HOST_CHANGES`` before every decision as cheaply as the server allows.

    On PostgreSQL it keeps a connection of its own in autocommit: no pool
    checkout with its ping, no BEGIN and ROLLBACK around a read (and no open
    transaction to hold the server's xmin back).  A connection that broke is
    replaced once.  On SQLite the pool's connection is as cheap.
    """

    def __init__(self, engine):
        self.engine = engine
        self.dedicated = engine.dialect.name == 'postgresql'
        self._lock = threading.Lock()
        self._conn = None

    def rows(self, since):
        params = {'since': 0 if since is None else since}
        if not self.dedicated:
            with self.engine.connect() as conn:
                return conn.execute(HOST_CHANGES, params).all()
        with self._lock:
            try:
                return self._connection().execute(HOST_CHANGES, params).all()
            except (db_exc.DBError, DBAPIError):
                self._close()       # e.g. the server restarted: once more, anew
                return self._connection().execute(HOST_CHANGES, params).all()

    def _connection(self):
        if self._conn is None:
            self._conn = self.engine.connect().execution_options(isolation_level='AUTOCOMMIT')
        return self._conn

    def _close(self):
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except (db_exc.DBError, DBAPIError):
                pass

    def close(self):
        with self._lock:
            self._close()
