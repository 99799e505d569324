"""One worker thread draining a queue in order, with flush and close.

Used for what a service sends off its request path (notifications, agent
results): the caller queues and returns; the worker sends in queue order.
"""

import queue
import threading

STOP = object()


class OrderedWorker:
    """Base class: subclasses implement ``_run`` and stop when they take STOP."""

    def __init__(self, name, max_queued=0):
        self._queue = queue.Queue(maxsize=max_queued)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def flush(self, timeout=None):
        """Wait until everything queued so far was handed on; False on timeout."""
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout)

    def close(self, timeout=30):
        """Hand on what is queued, then stop the worker."""
        self._queue.put(STOP)
        self._thread.join(timeout)

    def _run(self):
        raise NotImplementedError
