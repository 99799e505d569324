"""Which instances the agent is operating on right now.

The instance driver marks an instance for the length of a build, power change
or delete; agent.lifecycle leaves libvirt's events of a marked instance to
that operation, which reports its own result.
"""

import collections
import contextlib
import threading


class InFlight:
    """A thread-safe count of operations in flight per key (nested operations allowed)."""

    def __init__(self):
        self._counts = collections.Counter()
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def operating(self, key):
        """Mark ``key`` for the block; yields ``key``."""
        with self._lock:
            self._counts[key] += 1
        try:
            yield key
        finally:
            with self._lock:
                self._counts[key] -= 1
                if not self._counts[key]:
                    del self._counts[key]

    def __contains__(self, key):
        return key in self._counts
