"""IOMMU groups: the passthrough rule both services apply, written once.

The IOMMU isolates devices by group, not one by one: every device of a group
is reachable from a guest that is given any of them.  So kvmfleet gives a
device to an instance only when every *other* member of its group

* is a passthrough device of the host (listed in its ``pci_devices``; a member
  the host keeps for itself, e.g. a PF left to its host driver or a NIC the
  host uses, is not), and
* is held by no other instance.

The instance then holds the whole group: the scheduler claims it (one
``iommu_group`` resource row per group, so the store's UNIQUE rows keep two
instances out of one group) and other members may only go to that same
instance.  A device with no group (``iommu_group`` unknown) is its own group.
Discovery leaves PCI bridges out of the members it reports (VFIO accepts a
bridge in a group; it is not an endpoint a guest can reach).
"""


def members_by_address(devices):
    """{address: frozenset of every address in its IOMMU group, itself included}.

    A group is the devices sharing an ``iommu_group`` number plus every
    ``iommu_group_members`` address they report (assignable or not).
    """
    by_group = {}
    for device in devices:
        if device.iommu_group is not None:
            group = by_group.setdefault(device.iommu_group, set())
            group.add(device.address)
            group.update(device.iommu_group_members)
    return {device.address: (frozenset(by_group[device.iommu_group])
                             if device.iommu_group is not None
                             else frozenset((device.address,)))
            for device in devices}


def blockers(address, members, assignable, held_elsewhere):
    """Members of ``address``'s group that keep it from an instance (sorted).

    ``members``: the group (members_by_address); ``assignable``: addresses the
    host offers for passthrough; ``held_elsewhere``: addresses other instances
    hold.  Empty: the device may go to the instance.
    """
    return sorted(member for member in members
                  if member != address
                  and (member not in assignable or member in held_elsewhere))


def describe(address, group, found):
    """One sentence for a device refused by its group."""
    return (f"{address}: IOMMU group {group} also holds {', '.join(found)} "
            '(kept by the host or held by another instance)')


def group_keys(pci_assignments):
    """The IOMMU groups an assignment's devices hold, as resource keys."""
    return sorted({str(p.iommu_group) for p in pci_assignments if p.iommu_group is not None})
