"""Builds claimed but never cast, found in the store and cast again.

A boot commits its claim (the instance BUILDING, ``cast_pending`` set in the same
transaction), then casts the build to the agent and clears the mark.  A scheduler
that dies between the two leaves the mark: at start a scheduler casts every marked
build, and periodically those marked for longer than ``PENDING_AGE_S`` (another
scheduler's, which died).  A build cast twice is harmless: the agent answers a build
of an instance it already has with the instance's state (agent/manager.py).
"""

import logging
import os
import signal
import threading

from oslo_config import cfg

LOG = logging.getLogger(__name__)
# A live scheduler casts within milliseconds of its commit: older marks are orphans
PENDING_AGE_S = 30.0
# How often the service clears the marks of the builds it has cast
FLUSH_INTERVAL_S = 1.0

fault_opts = [
    cfg.BoolOpt('test_crash_after_claim', default=False,
                help='TEST ONLY, never set in production: the scheduler kills itself '
                     '(SIGKILL) after a boot\'s claim is committed and before its build is '
                     'cast, as a crash at that moment would (fault injection for '
                     'tests/functional/test_crash_safe_builds.py).'),
]
cfg.CONF.register_opts(fault_opts, group='scheduler')


def list_opts():
    return [('scheduler', fault_opts)]


def crash_point(enabled):
    """Die at once when the test-only fault is ``enabled``."""
    if enabled:
        LOG.error('[scheduler] test_crash_after_claim is set: killing this scheduler')
        os.kill(os.getpid(), signal.SIGKILL)


def recast_pending(store, agents, now, min_age_s=0.0):
    """Cast the build of every instance whose claim is committed but whose build never
    left (marked at least ``min_age_s`` ago); returns their uuids."""
    pending = store.pending_builds(before=now - min_age_s)
    for build in pending:
        LOG.warning('Build of %s on %s was never cast: casting it now', build.uuid,
                    build.assignment['host'])
        agents.build_instance(build.assignment['host'], build.uuid, build.name,
                              build.assignment, build.spec, build.request)
    store.builds_cast([build.uuid for build in pending])
    return [build.uuid for build in pending]


class CastMarks:
    """Builds cast whose marks are not cleared yet: cleared together by ``flush``."""

    def __init__(self, store):
        self.store = store
        self._lock = threading.Lock()
        self._cast = []

    def cast(self, uuids):
        """The builds of ``uuids`` have left: clear their marks at the next flush."""
        with self._lock:
            self._cast.extend(uuids)

    def flush(self):
        """Clear every mark recorded (one commit); returns how many.  A failed commit
        keeps them for the next flush."""
        with self._lock:
            uuids, self._cast = self._cast, []
        if not uuids:
            return 0
        try:
            self.store.builds_cast(uuids)
        except BaseException:
            with self._lock:
                self._cast[:0] = uuids
            raise
        return len(uuids)
