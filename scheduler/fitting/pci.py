"""Which PCI devices (by address) an instance gets: alias requests and SR-IOV ports.

* An alias request ``name:count`` asks for ``count`` devices matching the
  alias' vendor/product (and device type when the alias names one); it is
  labelled ``alias:<name>``.  A port with ``vnic_type`` ``direct`` or
  ``macvtap`` asks for one VF on its physical network, ``direct-physical``
  for one PF; it is labelled ``port:<index>`` (index in the port list).
* PF/VF exclusivity: a VF is never given while its PF is used, a PF never
  while any of its VFs is.
* NUMA affinity, for guests with a NUMA topology (``host_cells`` given):
  ``required`` - the device's NUMA node is one of the guest's host cells
  (a device without NUMA information does not qualify); ``legacy`` - the
  same, but devices without NUMA information qualify; ``preferred`` - the
  caller first asks strictly (as legacy), then relaxed (any device);
  ``socket`` - the device's NUMA node is a cell on the same CPU socket as
  one of the guest's host cells (a device without NUMA information does not
  qualify), and every host cell must report its socket, else the host
  refuses (``PCI_NO_SOCKET_INFO``; Nova: the host must report it).  Guests
  without a NUMA topology take any free matching device, whatever the policy
  (as in Nova).
* Among acceptable devices: affine first, then VFs of a PF that already has
  VFs in use (keeps whole PFs free), then by address - deterministic.
* ``hw:pci_numa_affinity_policy`` (flavor or image), when given, overrides
  the alias' own ``numa_policy``, as in Nova.
* IOMMU groups (the rule of wire/iommu.py): a device goes to an instance
  only when every other member of its group is a passthrough device of the
  host that no other instance holds; devices refused only for that are
  ``PCI_IOMMU_GROUP``.  The chosen device carries its group, which the claim
  holds (one resource row per group).
"""

import dataclasses

from scheduler.fitting import reasons
from scheduler.fitting.reasons import Rejection
from wire import iommu
from wire.assignment import PciAssignment
from wire.request_spec import PCI_PREFERRED, PCI_REQUIRED, PCI_SOCKET

VF_VNIC_TYPES = ('direct', 'macvtap')
PF_VNIC_TYPES = ('direct-physical',)
POLICY_KEYS = ('hw:pci_numa_affinity_policy', 'hw_pci_numa_affinity_policy')


@dataclasses.dataclass(frozen=True, slots=True)
class DeviceNeed:
    """``count`` devices of one kind, and what asked for them."""

    label: str
    count: int
    vendor_id: str | None
    product_id: str | None
    device_type: str | None
    physical_network: str | None
    policy: str

    def matches(self, device):
        return ((self.device_type is None or device.type == self.device_type)
                and (self.vendor_id is None or device.vendor_id.lower() == self.vendor_id)
                and (self.product_id is None or device.product_id.lower() == self.product_id)
                and (self.physical_network is None
                     or device.physical_network == self.physical_network))

    def describe(self):
        if self.vendor_id or self.product_id:
            return f"{self.vendor_id}:{self.product_id}"
        kind = 'PF' if self.device_type == 'type-PF' else 'VF'
        return f"{kind} on {self.physical_network}"


def vf_physical_network(device):
    """The physical network ``device`` is a free VF of, or None (not a VF, or untagged).

    The one meaning of "VFs per physnet" (summary, fleet view, host views, metrics):
    a VF's own ``physical_network`` tag, the one ``DeviceNeed.matches`` compares a
    port's network with.  Its PF's tag does not carry over: a VF the agent's
    ``[pci] device_spec`` left untagged serves only ports that name no network.
    """
    return device.physical_network if device.type == 'type-VF' else None


def device_needs(spec):
    """The request's PCI needs, most specific first (ports, typed aliases, others)."""
    explicit = (POLICY_KEYS[0] in spec.extra_specs or POLICY_KEYS[1] in spec.image_properties)
    needs = []
    for index, port in enumerate(spec.ports):
        kind = ('type-VF' if port.vnic_type in VF_VNIC_TYPES else
                'type-PF' if port.vnic_type in PF_VNIC_TYPES else None)
        if kind:
            needs.append(DeviceNeed(f"port:{index}", 1, None, None, kind,
                                    port.physical_network, spec.pci_numa_affinity_policy))
    aliases = [DeviceNeed(f"alias:{req.alias}", req.count, _lower(req.vendor_id),
                          _lower(req.product_id), req.device_type, None,
                          spec.pci_numa_affinity_policy if explicit else req.numa_policy)
               for req in spec.pci_requests if req.count > 0]
    aliases.sort(key=lambda need: need.device_type is None)
    return tuple(needs + aliases)


def _lower(value):
    return value.lower() if value else None


def allocate(facts, usage, needs, host_cells=None, relaxed=False):
    """Pick devices for every need, or return a Rejection.

    ``host_cells`` is the set of host cells of a NUMA guest (None without a
    NUMA topology); ``relaxed`` lets ``preferred`` take non-affine devices.
    """
    pool = _Pool(facts, usage)
    chosen = []
    for need in needs:
        candidates = candidates_for(facts, need)
        worst = _worst_rank(need, relaxed)
        affine = _affine_cells(facts, need, host_cells) if candidates else host_cells
        if isinstance(affine, Rejection):
            return affine
        for got in range(need.count):
            best, best_key, free, grouped = None, None, 0, 0
            for device in candidates:          # sorted by address: first best wins
                if not pool.free(device):
                    continue
                if group_blockers(facts, device, pool.others):
                    grouped += 1
                    continue
                free += 1
                rank = _affinity_rank(device, affine)
                if rank <= worst:
                    key = (rank, pool.pack_rank(device))
                    if best_key is None or key < best_key:
                        best, best_key = device, key
            if best is None:
                return _shortage(need, got, free, grouped, affine)
            pool.take(best)
            chosen.append(PciAssignment(
                address=best.address, host_cell=best.numa_node, request=need.label,
                physical_network=need.physical_network, iommu_group=best.iommu_group))
    return tuple(chosen)


def device_free(facts, used, device):
    """Whether a new instance may get ``device`` while ``used`` addresses are held."""
    return unshared(facts, used, device) and not group_blockers(facts, device, used)


def unshared(facts, used, device):
    """Free under PF/VF exclusivity: not used, nor its PF, nor (for a PF) any VF."""
    if device.address in used:
        return False
    if device.type == 'type-VF':
        return device.parent not in used
    if device.type == 'type-PF':
        return not any(vf in used for vf in facts.vfs_of.get(device.address, ()))
    return True


def group_blockers(facts, device, held_elsewhere):
    """The members of ``device``'s IOMMU group that keep it from an instance."""
    members = facts.iommu_members.get(device.address)
    if members is None:
        return ()
    return iommu.blockers(device.address, members, facts.devices, held_elsewhere)


def candidates_for(facts, need):
    """The host's devices matching ``need``, by address (memoised per host)."""
    key = (need.vendor_id, need.product_id, need.device_type, need.physical_network)
    found = facts.match_memo.get(key)
    if found is None:
        found = tuple(sorted((d for d in facts.devices.values() if need.matches(d)),
                             key=lambda d: d.address))
        facts.match_memo[key] = found
    return found


class _Pool:
    """Devices in use (by others or by this allocation) and PFs with VFs in use."""

    def __init__(self, facts, usage):
        self.others = usage.pci_used    # held by other instances (IOMMU groups)
        self.used = set(usage.pci_used)
        self.busy_pfs = set()
        for address in self.used:
            device = facts.devices.get(address)
            if device is not None and device.type == 'type-VF' and device.parent:
                self.busy_pfs.add(device.parent)

    def free(self, device):
        if device.address in self.used:
            return False
        if device.type == 'type-VF':
            return device.parent not in self.used
        return device.type != 'type-PF' or device.address not in self.busy_pfs

    def pack_rank(self, device):
        """0 for a VF whose PF already serves other VFs (keeps whole PFs free)."""
        if device.type != 'type-VF' or not device.parent:
            return 0
        return 0 if device.parent in self.busy_pfs else 1

    def take(self, device):
        self.used.add(device.address)
        if device.type == 'type-VF' and device.parent:
            self.busy_pfs.add(device.parent)


def _shortage(need, got, free_elsewhere, grouped, host_cells):
    if not free_elsewhere and grouped:
        return Rejection(reasons.PCI_IOMMU_GROUP,
                         f"{need.label}: {grouped} free {need.describe()} devices share an "
                         'IOMMU group with a device kept by the host or held by another '
                         f"instance, needs {need.count}", shortfall=need.count - got)
    if not free_elsewhere:
        return Rejection(reasons.PCI_NO_DEVICE,
                         f"{need.label}: {got} free {need.describe()} devices, "
                         f"needs {need.count}", shortfall=need.count - got)
    return Rejection(reasons.PCI_NUMA_AFFINITY,
                     f"{need.label}: {free_elsewhere} free {need.describe()} devices, none in "
                     f"host cells {sorted(host_cells)} as policy {need.policy} requires "
                     f"({got} of {need.count} found)", shortfall=need.count - got)


def _affine_cells(facts, need, host_cells):
    """The host cells ``need``'s devices should be on (None: any), or a Rejection.

    Under ``socket`` they are every cell on a socket of one of ``host_cells``.
    """
    if host_cells is None or need.policy != PCI_SOCKET:
        return host_cells
    unknown = sorted(cell for cell, socket in facts.socket_of.items() if socket is None)
    if unknown:
        return Rejection(reasons.PCI_NO_SOCKET_INFO,
                         f"{need.label}: policy socket needs the CPU socket of every host "
                         f"cell; cells {unknown} report none", shortfall=need.count)
    sockets = {facts.socket_of[cell] for cell in host_cells}
    return frozenset(cell for cell, socket in facts.socket_of.items() if socket in sockets)


def _affinity_rank(device, host_cells):
    if host_cells is None or device.numa_node in host_cells:
        return 0
    return 1 if device.numa_node is None else 2


def _worst_rank(need, relaxed):
    if need.policy in (PCI_REQUIRED, PCI_SOCKET):
        return 0
    if need.policy == PCI_PREFERRED and relaxed:
        return 2
    return 1     # legacy, preferred (strict pass)


def has_preferred(needs):
    """True if some need is ``preferred`` (so a relaxed second pass makes sense)."""
    return any(need.policy == PCI_PREFERRED for need in needs)
