"""The scheduler's tables (SQLAlchemy 2 declarative models).

``allocated_resources`` holds one row per exclusively held resource (a
pinned pCPU, a PCI device, the IOMMU group of a passed-through device) with
a UNIQUE (host, kind, key): even if every other check failed, the database
itself refuses to give a pCPU, a VF or an IOMMU group to two instances.
"""

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.expression import false

SCHEMA_VERSION = 6

BUILDING, ACTIVE, STOPPED, ERROR, DELETED = 'BUILDING', 'ACTIVE', 'STOPPED', 'ERROR', 'DELETED'
MIGRATING = 'MIGRATING'    # a move holds a destination claim beside the source's
RESIZED = 'RESIZED'        # Nova's VERIFY_RESIZE: runs resized, both claims held until confirm
STATES = (BUILDING, ACTIVE, STOPPED, ERROR, DELETED, MIGRATING, RESIZED)
DELETING = 'deleting'     # the task of an instance whose delete is in flight

# Kinds and statuses of a migration record (docs/migration.md).
LIVE, COLD, EVACUATION, RESIZE = 'live', 'cold', 'evacuation', 'resize'
MOVE_KINDS = (LIVE, COLD, EVACUATION, RESIZE)
# The instance's task while a move of each kind is under way (default: the kind)
MOVE_TASKS = {RESIZE: 'resizing'}
CLAIMED, MOVING, DONE, FAILED = 'claimed', 'migrating', 'done', 'failed'
# A resize whose guest runs on the destination, waiting for confirm or revert
# (Nova's migration status 'finished'); a reverted one ends 'reverted'.
FINISHED, REVERTED = 'finished', 'reverted'
MOVE_STATUSES = (CLAIMED, MOVING, FINISHED, DONE, FAILED, REVERTED)
MOVE_ACTIVE = (CLAIMED, MOVING, FINISHED)      # the destination claim is held

RESOURCE_PCPU = 'pcpu'
RESOURCE_PCI = 'pci'
RESOURCE_IOMMU_GROUP = 'iommu_group'   # a passed-through device's whole group (wire/iommu.py)


class Base(DeclarativeBase):
    pass


class SchemaVersion(Base):
    __tablename__ = 'schema_version'

    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    applied_at: Mapped[float] = mapped_column(Float)


class Host(Base):
    __tablename__ = 'hosts'

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    topology: Mapped[dict] = mapped_column(JSON)      # HostTopology.to_dict() without instances
    generation: Mapped[int] = mapped_column(Integer, default=0)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_heartbeat: Mapped[float | None] = mapped_column(Float, nullable=True)
    # Stamp of the last write other schedulers' views must follow (revision 0006,
    # scheduler/store/changes.py); a heartbeat alone does not move it.  Read by its
    # own statement only (deferred: host loads do not need it).
    changed_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default='0',
                                             index=True, deferred=True)


class Instance(Base):
    __tablename__ = 'instances'

    uuid: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), index=True)
    request: Mapped[dict] = mapped_column(JSON)
    spec: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    task: Mapped[str | None] = mapped_column(String(16), nullable=True)
    host: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[list] = mapped_column(JSON, default=list)
    alternates: Mapped[list] = mapped_column(JSON, default=list)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
    # True from the claim's commit until its build is cast (a crash between the two);
    # read by its own statements only (deferred: instance loads do not need it)
    cast_pending: Mapped[bool] = mapped_column(Boolean, default=False,
                                               server_default=false(), deferred=True)


class Allocation(Base):
    __tablename__ = 'allocations'

    instance_uuid: Mapped[str] = mapped_column(
        String(36), ForeignKey('instances.uuid'), primary_key=True)
    host: Mapped[str] = mapped_column(String(255), ForeignKey('hosts.name'), index=True)
    assignment: Mapped[dict] = mapped_column(JSON)
    claimed_at: Mapped[float] = mapped_column(Float)


class AllocatedResource(Base):
    __tablename__ = 'allocated_resources'
    __table_args__ = (UniqueConstraint('host', 'kind', 'key', name='uniq_resource_holder'),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    host: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(64))
    instance_uuid: Mapped[str] = mapped_column(
        String(36), ForeignKey('allocations.instance_uuid'), index=True)
    # Set on a move's destination rows until the move ends (revision 0003).
    migration_uuid: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)


class Migration(Base):
    """One move of one instance: both assignments, what happened and why."""

    __tablename__ = 'migrations'

    uuid: Mapped[str] = mapped_column(String(36), primary_key=True)
    instance_uuid: Mapped[str] = mapped_column(String(36), ForeignKey('instances.uuid'),
                                               index=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), index=True)
    source_host: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    dest_host: Mapped[str | None] = mapped_column(String(255), nullable=True, index=True)
    source_assignment: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    dest_assignment: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)
    finished_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    # A resize's new RequestSpec and request: the instance's once confirmed
    new_spec: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    new_request: Mapped[dict | None] = mapped_column(JSON, nullable=True)


class ServerGroup(Base):
    """A server group: its policy is set at creation and never changes (Nova's rule)."""

    __tablename__ = 'server_groups'

    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    policy: Mapped[str] = mapped_column(String(32))
    max_server_per_host: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[float] = mapped_column(Float)
