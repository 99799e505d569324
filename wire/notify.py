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
    """Publishes through an oslo_messaging.Notifier from one worker thread, in order.

    ``publish`` names the publisher of each notification, so one worker (and
    one broker connection) serves every host of a process (simulated fleets).
    """

    def __init__(self, notifier, max_queued=10000):
        self.notifier = notifier
        self._prepared = {}    # publisher id -> the notifier prepared for it
        super().__init__('kvmfleet-notifier', max_queued)

    def publish(self, publisher_id, priority, ctxt, event_type, payload):
        self._queue.put((publisher_id, priority, ctxt, event_type, payload))

    def info(self, ctxt, event_type, payload):
        self.publish(None, 'info', ctxt, event_type, payload)

    def error(self, ctxt, event_type, payload):
        self.publish(None, 'error', ctxt, event_type, payload)

    def _for(self, publisher_id):
        if publisher_id is None:
            return self.notifier
        if publisher_id not in self._prepared:
            self._prepared[publisher_id] = self.notifier.prepare(publisher_id=publisher_id)
        return self._prepared[publisher_id]

    def _run(self):
        while True:
            item = self._queue.get()
            if item is STOP:
                return
            if isinstance(item, threading.Event):
                item.set()
                continue
            publisher_id, priority, ctxt, event_type, payload = item
            try:
                getattr(self._for(publisher_id), priority)(ctxt, event_type, payload)
            except Exception:   # a notification never stops the service
                LOG.exception('Notification %s failed', event_type)
