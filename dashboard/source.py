"""What the dashboard reads from the scheduler, over its RPC API only.

The ``hosts`` answer is the one large answer (every host of the fleet); it is kept
for ``[dashboard] refresh_seconds`` so page views, pages and filters within that time
cost no call at all.  Everything else is asked for each page.
"""

import threading
import time


class SchedulerSource:
    """Reads through a wire.scheduler_rpcapi.SchedulerAPI (or anything with its methods)."""

    def __init__(self, api, refresh_seconds=5.0, clock=time.monotonic):
        self.api = api
        self.refresh_seconds = refresh_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._hosts, self._fetched = None, None

    def hosts(self):
        """The ``hosts`` answer's list, at most ``refresh_seconds`` old."""
        with self._lock:
            now = self.clock()
            if self._hosts is None or now - self._fetched >= self.refresh_seconds:
                self._hosts, self._fetched = self.api.hosts()['hosts'], now
            return self._hosts

    def host_detail(self, name):
        return self.api.host_detail(name)

    def instance(self, uuid):
        return self.api.show(uuid)

    def instances(self, state=None, host=None):
        return self.api.list(state=state, host=host)['instances']

    def explain(self, request):
        return self.api.explain(request)
