"""What the instance driver's operations end with: LaunchResult and the reason codes.

Expected failures (a refused assignment, a libvirt call that failed) are
returned as a LaunchResult with a reason code and a detail, never raised.
"""

import dataclasses

VERIFY_FAILED = 'VERIFY_FAILED'
ALREADY_EXISTS = 'ALREADY_EXISTS'
IMAGE_INVALID = 'IMAGE_INVALID'
BUILD_FAILED = 'BUILD_FAILED'
FILES_FAILED = 'FILES_FAILED'
DEFINE_FAILED = 'DEFINE_FAILED'
START_FAILED = 'START_FAILED'
LAUNCH_TIMEOUT = 'LAUNCH_TIMEOUT'
LIBVIRT_UNAVAILABLE = 'LIBVIRT_UNAVAILABLE'

# Migration (agent.driver_migration)
INSTANCE_NOT_FOUND = 'INSTANCE_NOT_FOUND'
INSTANCE_NOT_RUNNING = 'INSTANCE_NOT_RUNNING'
LIVE_MIGRATION_UNSUPPORTED = 'LIVE_MIGRATION_UNSUPPORTED'
COLD_MIGRATION_UNSUPPORTED = 'COLD_MIGRATION_UNSUPPORTED'
MIGRATION_FAILED = 'MIGRATION_FAILED'
MIGRATION_TIMEOUT = 'MIGRATION_TIMEOUT'
PORT_DETACH_FAILED = 'PORT_DETACH_FAILED'
PORT_ATTACH_FAILED = 'PORT_ATTACH_FAILED'


@dataclasses.dataclass(frozen=True, slots=True)
class LaunchResult:
    """What a build attempt ended with; ``reason`` is None on success."""

    uuid: str
    state: str | None
    reason: str | None = None
    detail: str = ''
    violations: tuple = ()
    elapsed_s: float = 0.0
    launch_s: float | None = None    # start -> running, when the domain was started

    @property
    def ok(self):
        return self.reason is None


class BuildFailed(Exception):
    """A step of a build or move failed: ``reason`` (a code above), ``detail``."""

    def __init__(self, reason, detail, violations=()):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.violations = violations
