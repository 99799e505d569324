"""Notifications sent from a background thread, in order, off the request path.

Every publish on the RabbitMQ driver waits for the broker's confirm.  A
service that notifies from inside an RPC endpoint makes the caller wait for
that round trip too, although a notification never changes the answer.
``BackgroundNotifier`` queues each notification and one thread publishes
them in the order they were made; ``close`` sends what is queued before the
service stops.  A full queue makes the producer wait (nothing is dropped).
"""

import logging
import threading

from wire.background import STOP, OrderedWorker

LOG = logging.getLogger(__name__)


class BackgroundNotifier(OrderedWorker):
    """``info``/``error`` like oslo_messaging.Notifier; published by one worker thread."""

    def __init__(self, notifier, max_queued=10000):
        self.notifier = notifier
        super().__init__('kvmfleet-notifier', max_queued)

    def info(self, ctxt, event_type, payload):
        self._queue.put(('info', ctxt, event_type, payload))

    def error(self, ctxt, event_type, payload):
        self._queue.put(('error', ctxt, event_type, payload))

    def _run(self):
        while True:
            item = self._queue.get()
            if item is STOP:
                return
            if isinstance(item, threading.Event):
                item.set()
                continue
            priority, ctxt, event_type, payload = item
            try:
                getattr(self.notifier, priority)(ctxt, event_type, payload)
            except Exception:   # a notification never stops the service
                LOG.exception('Notification %s failed', event_type)
