"""The scheduler's persistent state (SQLAlchemy 2): hosts, instances, claims."""

from scheduler.store.models import (
    ACTIVE,
    BUILDING,
    DELETED,
    DELETING,
    ERROR,
    MIGRATING,
    RESIZED,
    STATES,
    STOPPED,
)
from scheduler.store.moves import MigrationRecord
from scheduler.store.repository import (
    ClaimConflict,
    GroupInUse,
    GroupRecord,
    HeldInstance,
    HostRecord,
    InstanceRecord,
    NotFound,
    Store,
    resource_keys,
)

__all__ = ['ACTIVE', 'BUILDING', 'DELETED', 'DELETING', 'ERROR', 'MIGRATING', 'RESIZED', 'STATES',
           'STOPPED', 'ClaimConflict', 'GroupInUse', 'GroupRecord', 'HeldInstance', 'HostRecord',
           'InstanceRecord', 'MigrationRecord', 'NotFound', 'Store', 'resource_keys']
