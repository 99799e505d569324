"""Values and errors the store's modules share: claim conflicts, held claims, resource keys."""

import dataclasses

from sqlalchemy.exc import IntegrityError

from scheduler.store import models
from wire import iommu
from wire.assignment import Assignment


class ClaimConflict(Exception):
    """The host changed since the placement was computed, or a resource is held."""


class NotFound(LookupError):
    pass


@dataclasses.dataclass(frozen=True)
class HeldInstance:
    assignment: Assignment
    name: str
    server_group: str | None
    claimed_at: float


def resource_keys(assignment):
    """(kind, key) of every resource the assignment holds exclusively."""
    keys = [(models.RESOURCE_PCPU, str(cpu)) for cpu in sorted(assignment.pinned_pcpus)]
    keys += [(models.RESOURCE_PCI, pci.address) for pci in assignment.pci_devices]
    keys += [(models.RESOURCE_IOMMU_GROUP, group)
             for group in iommu.group_keys(assignment.pci_devices)]
    return keys


def integrity_violation(exc):
    """A UNIQUE or foreign key refusal, as SQLAlchemy or as oslo.db translated it."""
    return isinstance(getattr(exc, 'inner_exception', exc), IntegrityError)
