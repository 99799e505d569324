"""Which instances the agent is operating on right now.

The instance driver marks an instance for the length of a build, power change
or delete; agent.lifecycle leaves libvirt's events of a marked instance to
that operation, which reports its own result.  The operations of one instance
run one after another.
"""

import collections
import contextlib
import threading


class InFlight:
    """A thread-safe count of operations in flight per key, run one at a time per key
    (nested operations of one thread allowed)."""

    def __init__(self):
        self._counts = collections.Counter()    # operations running or waiting their turn
        self._turns = {}      # key -> RLock held by the operation whose turn it is
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def operating(self, key):
        """Mark ``key`` for the block, run once the key's other operations have ended (a
        delete sent while the build runs waits for it, never undoes half of it);
        yields ``key``."""
        with self._lock:
            self._counts[key] += 1
            turn = self._turns.setdefault(key, threading.RLock())
        try:
            with turn:
                yield key
        finally:
            with self._lock:
                self._counts[key] -= 1
                if not self._counts[key]:
                    del self._counts[key]
                    del self._turns[key]

    def __contains__(self, key):
        return key in self._counts
