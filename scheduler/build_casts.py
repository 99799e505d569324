"""Build casts of a boot, batched per host while that host's previous cast is leaving.

A cast costs the scheduler about a millisecond of CPU (the message, its signature,
the publish and the broker's confirm) whatever it carries.  Boots claimed for one
host while a cast to that host is being sent wait for it to leave, then go
together in one ``build_instances`` cast (agent RPC 1.5; one ``build_instance``
each to an agent capped below).  Nothing waits on purpose: a build whose host has
no cast in flight leaves at once, alone.

A boot is answered only once its builds have left (or their cast failed, which
fails the boot as before), and each build's ``cast_pending`` mark is cleared only
after its cast (scheduler/builds.py): a crash at any point leaves the mark of a
build that did not leave, and the build is cast again.
"""

import threading

# Builds in one cast at most (a build is 2-3 KB on the wire)
MAX_BATCH = 16


class _Build:
    """One build waiting for its cast: its arguments, and how the cast went."""

    __slots__ = ('host', 'arguments', 'sent', 'error')

    def __init__(self, host, arguments):
        self.host = host
        self.arguments = arguments
        self.sent = threading.Event()
        self.error = None


class BuildCasts:
    """Sends builds to agents, those of one host that meet in flight in one cast.

    ``cast_marks``: builds.CastMarks, told of each build once it has left.
    """

    def __init__(self, cast_marks, max_batch=MAX_BATCH):
        self.cast_marks = cast_marks
        self.max_batch = max_batch
        self._lock = threading.Lock()
        self._queued = {}      # host -> [_Build] waiting for the host's cast in flight
        self._sending = set()  # hosts with a cast in flight (its sender sends the queue next)

    def send(self, agents, builds):
        """Cast ``builds`` ((host, build_instance arguments) pairs) through ``agents``
        (wire.agent_rpcapi.AgentAPI); returns once each has left, or raises the error
        of the cast that failed to send one."""
        waiting, leading = [], []
        with self._lock:
            for host, arguments in builds:
                build = _Build(host, arguments)
                waiting.append(build)
                self._queued.setdefault(host, []).append(build)
                if host not in self._sending:
                    self._sending.add(host)
                    leading.append(host)
        for index, host in enumerate(leading):
            try:
                self._drain(agents, host)
            except BaseException as exc:   # no build may wait for a sender that is gone
                for abandoned in leading[index:]:
                    self._abandon(abandoned, exc)
                raise
        for build in waiting:
            build.sent.wait()
        failed = next((b.error for b in waiting if b.error is not None), None)
        if failed is not None:
            raise failed

    def _drain(self, agents, host):
        """Send what is queued for ``host`` until nothing is, a cast at a time."""
        while self._cast_next(agents, host):
            pass

    def _abandon(self, host, error):
        """Fail what is queued for ``host`` and free it for the next sender."""
        with self._lock:
            abandoned = self._queued.pop(host, [])
            self._sending.discard(host)
        self._fail(abandoned, error)

    def _cast_next(self, agents, host):
        with self._lock:
            queued = self._queued.get(host)
            if not queued:
                self._queued.pop(host, None)
                self._sending.discard(host)
                return False
            batch, self._queued[host] = queued[:self.max_batch], queued[self.max_batch:]
        try:
            if len(batch) == 1:      # alone: the message every agent version takes
                agents.build_instance(host, **batch[0].arguments)
            else:
                agents.build_instances(host, [build.arguments for build in batch])
        except BaseException as exc:     # each boot waiting on it fails, as its own would
            self._fail(batch, exc)
            if not isinstance(exc, Exception):
                raise
            return True
        try:
            self.cast_marks.cast([build.arguments['instance'] for build in batch])
        finally:
            for build in batch:
                build.sent.set()
        return True

    @staticmethod
    def _fail(builds, error):
        for build in builds:
            build.error = error
            build.sent.set()
