"""Why a host cannot take a request: named reason codes and the Rejection value.

A Rejection's ``detail`` is a sentence with the numbers an operator needs
("cell 1: 2 free 1G pages, needs 4"); ``shortfall`` is how much is missing,
in the unit of the reason (pCPUs, pages, MiB, devices, slots, cells), so
the engine can rank near misses.
"""

import dataclasses

from wire.topology import page_label  # noqa: F401  (its home is the wire; re-exported here)

# Host-wide checks.
HOST_NO_SHARED_CPUS = 'HOST_NO_SHARED_CPUS'      # floating vCPUs but no shared pCPUs at all
HOST_VCPUS = 'HOST_VCPUS'                        # shared pCPUs x ratio exhausted host-wide
HOST_RAM = 'HOST_RAM'                            # small-page memory x ratio exhausted host-wide
SEV_NO_SLOTS = 'SEV_NO_SLOTS'
SEV_SNP_UNSUPPORTED = 'SEV_SNP_UNSUPPORTED'      # amd-sev-snp on a host without SEV-SNP

# NUMA cell checks.
NOT_ENOUGH_CELLS = 'NOT_ENOUGH_CELLS'            # fewer usable host cells than guest cells
NUMA_CELL_NO_FREE_PCPUS = 'NUMA_CELL_NO_FREE_PCPUS'
NUMA_CELL_NO_FREE_CORES = 'NUMA_CELL_NO_FREE_CORES'  # isolate/require need whole free cores
NO_SMT_FOR_REQUIRE = 'NO_SMT_FOR_REQUIRE'
NUMA_CELL_NO_SHARED_CPUS = 'NUMA_CELL_NO_SHARED_CPUS'
NUMA_CELL_SHARED_VCPUS = 'NUMA_CELL_SHARED_VCPUS'    # cell's shared pCPUs x ratio exhausted
NUMA_CELL_NO_MEMORY = 'NUMA_CELL_NO_MEMORY'          # small-page memory
NUMA_CELL_NO_PAGE_SIZE = 'NUMA_CELL_NO_PAGE_SIZE'    # no pool of the asked page size
NUMA_CELL_NO_FREE_PAGES = 'NUMA_CELL_NO_FREE_PAGES'
PAGE_SIZE_NOT_DIVISOR = 'PAGE_SIZE_NOT_DIVISOR'      # memory is not a whole number of pages
NUMA_CELL_NO_EMULATOR_PCPU = 'NUMA_CELL_NO_EMULATOR_PCPU'

# PCI checks.
PCI_NO_DEVICE = 'PCI_NO_DEVICE'
PCI_NUMA_AFFINITY = 'PCI_NUMA_AFFINITY'          # devices exist, none affine enough
PCI_IOMMU_GROUP = 'PCI_IOMMU_GROUP'              # free devices, but their IOMMU group is not
PCI_NO_SOCKET_INFO = 'PCI_NO_SOCKET_INFO'        # policy socket, host cells without a socket

RESOURCE_REASONS = (
    HOST_NO_SHARED_CPUS, HOST_VCPUS, HOST_RAM, SEV_NO_SLOTS, SEV_SNP_UNSUPPORTED,
    NOT_ENOUGH_CELLS,
    NUMA_CELL_NO_FREE_PCPUS, NUMA_CELL_NO_FREE_CORES, NO_SMT_FOR_REQUIRE,
    NUMA_CELL_NO_SHARED_CPUS, NUMA_CELL_SHARED_VCPUS, NUMA_CELL_NO_MEMORY,
    NUMA_CELL_NO_PAGE_SIZE, NUMA_CELL_NO_FREE_PAGES, PAGE_SIZE_NOT_DIVISOR,
    NUMA_CELL_NO_EMULATOR_PCPU, PCI_NO_DEVICE, PCI_NUMA_AFFINITY, PCI_IOMMU_GROUP,
    PCI_NO_SOCKET_INFO,
)


@dataclasses.dataclass(frozen=True, slots=True)
class Rejection:
    """A host (or one of its cells) cannot take the request, and why."""

    reason: str
    detail: str
    host: str | None = None
    cell: int | None = None
    shortfall: int | None = None

    def on_host(self, host_name):
        """The same rejection, naming the host."""
        return dataclasses.replace(self, host=host_name)

    def __str__(self):
        return f"{self.host}: {self.detail}" if self.host else self.detail


def vcpu_room_detail(need, room, shared, ratio, cell=None):
    """Floating vCPUs beyond the room of shared pCPUs x ratio (the room stated as it is)."""
    where = '' if cell is None else f"cell {cell}: "
    return (f"{where}room for {max(0, room)} more floating vCPUs ({shared} shared pCPUs x "
            f"{ratio}), needs {need}")


def vcpu_limit_detail(need, shared, cell=None):
    """One guest (cell) floating over more vCPUs than there are shared pCPUs."""
    if cell is None:
        return f"{shared} shared pCPUs, guest has {need} floating vCPUs"
    return f"cell {cell}: {shared} shared pCPUs, guest cell has {need} floating vCPUs"
