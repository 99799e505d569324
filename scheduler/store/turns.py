"""Decisions in turn: schedulers sharing a PostgreSQL store decide one at a time.

Claims are checked against host generations, so two schedulers deciding at the
same moment never double-book; but they prefer the same best host (the weighers
rank the fleet alike for both), the later claim conflicts and is refitted.  Under
load that was a fifth of all claims with two schedulers (docs/benchmarks.md).

With ``[database] decisions_in_turn`` a scheduler holds a turn from the catch-up
before a decision to the commit of its last claim: a PostgreSQL advisory lock
(session level, one key per database schema) on a connection of its own, in
autocommit so that no transaction stays open while it waits or holds.  Every
decision then starts from a view that has every claim committed before it, and
only the decision and its claims wait for each other: receiving, parsing,
answering and casting still run side by side.  A scheduler that dies releases
its turn with its connection.  On SQLite (one scheduler) there is nothing to
take turns with.
"""

import contextlib
import threading
import zlib

from sqlalchemy import text

LOCK = text('SELECT pg_advisory_lock(:k)')
UNLOCK = text('SELECT pg_advisory_unlock(:k)')


class DecisionTurns:
    """The turn of one store (``enabled`` and PostgreSQL), re-entrant per process."""

    def __init__(self, engine, enabled):
        self._engine = engine if enabled and engine.dialect.name == 'postgresql' else None
        self._lock = threading.RLock()
        self._depth = 0
        self._conn = None
        self._key = None

    @property
    def enabled(self):
        return self._engine is not None

    @contextlib.contextmanager
    def turn(self):
        """Hold the turn for the block (nested blocks of this process share it)."""
        if self._engine is None:
            yield
            return
        with self._lock:
            if self._depth == 0:
                self._acquire()
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self._release()

    def _acquire(self):
        if self._conn is None:
            conn = self._engine.connect().execution_options(isolation_level='AUTOCOMMIT')
            if self._key is None:   # schemas of one database take turns on their own
                schema = conn.execute(text('SELECT current_schema()')).scalar_one()
                self._key = zlib.crc32(f'kvmfleet-decisions:{schema}'.encode())
            self._conn = conn
        try:
            self._conn.execute(LOCK, {'k': self._key})
        except Exception:
            self._drop()
            raise

    def _release(self):
        try:
            self._conn.execute(UNLOCK, {'k': self._key})
        except Exception:     # the connection is gone, and the lock with it
            self._drop()

    def _drop(self):
        conn, self._conn = self._conn, None
        with contextlib.suppress(Exception):
            conn.invalidate()
            conn.close()

    def close(self):
        with self._lock:
            if self._conn is not None:
                self._drop()
