"""Agent results sent to the scheduler in batches, in order, from one thread.

A simulated-fleet agent finishes hundreds of builds a second; one
``instance_update`` cast per build costs a confirmed broker publish here and
a message to receive and dispatch in the scheduler.  ``BatchingSchedulerAPI``
queues each result and one thread sends whatever has queued up as a single
``instance_updates`` cast (scheduler API 1.1): under load a batch holds many
results, when idle a result leaves at once (after ``linger`` seconds at
most).  Reports go through the same queue, so the scheduler never receives a
report before a result that happened earlier.
"""

import logging
import queue
import threading
import time

import oslo_messaging as messaging

from wire.background import STOP, OrderedWorker
from wire.scheduler_rpcapi import REPORT_CALL_TIMEOUT_S

LOG = logging.getLogger(__name__)
MAX_BATCH = 200


class BatchingSchedulerAPI(OrderedWorker):
    """``instance_update`` and ``report_host`` like SchedulerAPI, batched and ordered."""

    def __init__(self, scheduler_api, linger=0.005, max_batch=MAX_BATCH):
        self.api = scheduler_api
        self.linger = linger
        self.max_batch = max_batch
        # Until then first reports are cast: one call unanswered already says no
        # scheduler consumes, and a fleet's calls must not wait one after the other
        self.unanswered_until = 0.0
        super().__init__('kvmfleet-updates')

    def instance_update(self, instance, host, state, reason=None):
        self._queue.put({'instance': instance, 'host': host, 'state': state,
                         'reason': reason})

    def report_host(self, host, instances, taken=None, listed=None):
        """Queued behind the results before it; sent once those have gone (a call
        with ``taken``, the listing's age from ``listed``: see SchedulerAPI.report_host)."""
        self._queue.put(('report', host, instances, taken, listed))

    def migration_update(self, migration, host, status, reason=None):
        """A move's result (scheduler API 1.3), in order with the other results."""
        self._queue.put(('migration', migration, host, status, reason))

    def placed_elsewhere(self, host, instances, timeout=None):
        """A call, answered at once (nothing queued is about these domains)."""
        return self.api.placed_elsewhere(host, instances, timeout=timeout)

    def _run(self):
        while True:
            items = self._take()
            updates = []
            for item in items:
                if isinstance(item, dict):
                    updates.append(item)
                    continue
                self._send_updates(updates)   # keep the order around reports and flushes
                updates = []
                if item is STOP:
                    return
                if isinstance(item, threading.Event):
                    item.set()
                elif item[0] == 'migration':
                    self._send_migration(*item[1:])
                else:
                    self._send_report(*item[1:])
            self._send_updates(updates)

    def _take(self):
        """The next item, plus whatever arrives within ``linger`` (up to max_batch)."""
        items = [self._queue.get()]
        deadline = time.monotonic() + self.linger
        while len(items) < self.max_batch:
            try:
                items.append(self._queue.get(timeout=max(0.0, deadline - time.monotonic())))
            except queue.Empty:
                break
        return items

    def _send_updates(self, updates):
        if not updates:
            return
        try:
            self.api.instance_updates(updates)
        except Exception:   # as with one cast: logged, the next report reconciles
            LOG.exception('Sending %d instance updates failed', len(updates))

    def _send_report(self, host, instances, taken, listed):
        if taken is not None and time.monotonic() < self.unanswered_until:
            taken = None    # a call just went unanswered: no other waits; cast, retried later
        try:
            self.api.report_host(host, instances, taken=taken, listed=listed)
        except messaging.MessagingTimeout:
            self.unanswered_until = time.monotonic() + REPORT_CALL_TIMEOUT_S
            LOG.info('No scheduler took the report of host %s yet: sent again soon',
                     host.get('name', '?'))
        except Exception:
            LOG.exception('Report of host %s failed', host.get('name', '?'))

    def _send_migration(self, migration, host, status, reason):
        try:
            self.api.migration_update(migration, host, status, reason)
        except Exception:   # the scheduler's migration stays in flight: logged loudly
            LOG.exception('Sending the result of migration %s failed', migration)
