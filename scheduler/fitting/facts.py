"""What the fit derives from a host's topology alone, once per topology value.

Topologies are immutable values, so what is derived from one (cores per
cell, PCI parent/child index, host-wide totals) is memoised by the identity
of the parts it is derived from, its cells and PCI devices: alike hosts share
those (wire/interning.py), and so share their facts.  The memo is an
optimisation only: results never depend on it.
"""

import dataclasses

from wire import iommu

_MEMO_LIMIT = 20000
_memo = {}


@dataclasses.dataclass(frozen=True, slots=True)
class CellCores:
    """A cell's dedicated pCPUs grouped by physical core.

    ``cores`` holds each core's dedicated threads (sorted), cores ordered by
    their first thread.  A thread in the shared set is not a sibling for
    pinning: only dedicated threads can be pinned or reserved.
    """

    cores: tuple
    smt: bool          # some core has more than one dedicated thread


@dataclasses.dataclass(frozen=True, slots=True)
class HostFacts:
    cores: dict                 # cell id -> CellCores
    shared_total: int           # shared pCPUs of all cells
    shared_union: frozenset
    small_total_mb: int         # small-page memory of all cells (pools and reserve excluded)
    devices: dict               # address -> PciDevice
    vfs_of: dict                # PF address -> tuple of its VF addresses
    iommu_members: dict         # address -> its IOMMU group, for groups of two or more
    socket_of: dict             # cell id -> CPU socket (None: unknown)
    match_memo: dict = dataclasses.field(default_factory=dict)  # PCI need key -> devices


def facts_of(host):
    """The HostFacts of ``host`` (memoised by the identity of its cells and devices)."""
    cells, devices = host.cells, host.pci_devices
    key = (id(cells), id(devices))
    entry = _memo.get(key)
    if entry is not None and entry[0] is cells and entry[1] is devices:
        return entry[2]
    facts = _derive(host)
    if len(_memo) >= _MEMO_LIMIT:
        _memo.clear()
    _memo[key] = (cells, devices, facts)
    return facts


def _derive(host):
    vfs_of = {}
    for device in host.pci_devices:
        if device.type == 'type-VF' and device.parent:
            vfs_of.setdefault(device.parent, []).append(device.address)
    shared_union = frozenset().union(*(cell.shared_cpus for cell in host.cells))
    return HostFacts(
        cores={cell.id: cell_cores(cell) for cell in host.cells},
        shared_total=len(shared_union),
        shared_union=shared_union,
        small_total_mb=sum(cell.small_page_mb for cell in host.cells),
        devices={device.address: device for device in host.pci_devices},
        vfs_of={pf: tuple(sorted(vfs)) for pf, vfs in vfs_of.items()},
        iommu_members={address: members for address, members
                       in iommu.members_by_address(host.pci_devices).items()
                       if len(members) > 1},
        socket_of={cell.id: cell.socket for cell in host.cells},
    )


def cell_cores(cell):
    """Group the cell's dedicated pCPUs into cores by its sibling sets."""
    covered = set()
    cores = []
    for group in cell.siblings:
        threads = sorted((group & cell.cpus) - covered)
        if threads:
            covered.update(threads)
            cores.append(tuple(threads))
    cores.extend((cpu,) for cpu in sorted(cell.cpus - covered))
    cores.sort()
    return CellCores(cores=tuple(cores), smt=any(len(core) > 1 for core in cores))
