"""Notifications sent from a background thread, in order, off the request path.

Every publish on the RabbitMQ driver waits for the broker's confirm.  A
service that notifies from inside an RPC endpoint makes the caller wait for
that round trip too, although a notification never changes the answer.
``BackgroundNotifier`` queues each notification and one thread publishes
them in the order they were made; ``close`` sends what is queued before the
service stops.  A full queue makes the producer wait (nothing is dropped).
"""

import logging
import queue
import threading

LOG = logging.getLogger(__name__)
_STOP = object()


class BackgroundNotifier:
    """``info``/``error`` like oslo_messaging.Notifier; published by one worker thread."""

    def __init__(self, notifier, max_queued=10000):
        self.notifier = notifier
        self._queue = queue.Queue(maxsize=max_queued)
        self._thread = threading.Thread(target=self._run, name='kvmfleet-notifier',
                                        daemon=True)
        self._thread.start()

    def info(self, ctxt, event_type, payload):
        self._queue.put(('info', ctxt, event_type, payload))

    def error(self, ctxt, event_type, payload):
        self._queue.put(('error', ctxt, event_type, payload))

    def flush(self, timeout=None):
        """Wait until every queued notification was handed to the bus."""
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout)

    def close(self, timeout=30):
        """Publish what is queued, then stop the worker."""
        self._queue.put(_STOP)
        self._thread.join(timeout)

    def _run(self):
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            if isinstance(item, threading.Event):
                item.set()
                continue
            priority, ctxt, event_type, payload = item
            try:
                getattr(self.notifier, priority)(ctxt, event_type, payload)
            except Exception:   # a notification never stops the service
                LOG.exception('Notification %s failed', event_type)
