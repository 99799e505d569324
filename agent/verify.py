"""Check an assignment against this host before anything is created (defence in depth).

The scheduler decided; the agent does not re-decide, it refuses what its own
host contradicts.  ``verify`` returns every violation found (empty = go).

IOMMU isolation: the rule of wire/iommu.py, the one the scheduler fits with,
on the same data (the host topology lists every member of each device's
group, assignable or not): every other member must be a device of the host
topology that is whitelisted (``pci_whitelist``) and held by no other domain.
So a build the scheduler claimed is never refused for an IOMMU reason.

Small-page memory is not checked here: the scheduler accounts for it and the
kernel can reclaim it; hugepages cannot be, so their free counts are.
"""

import dataclasses

from wire import iommu, sev
from wire.cpuset import format_cpuset

WRONG_HOST = 'WRONG_HOST'
UNKNOWN_HOST_CELL = 'UNKNOWN_HOST_CELL'
PCPU_NOT_DEDICATED = 'PCPU_NOT_DEDICATED'
PCPU_ALREADY_PINNED = 'PCPU_ALREADY_PINNED'
SHARED_CPU_NOT_SHARED = 'SHARED_CPU_NOT_SHARED'
INSUFFICIENT_FREE_PAGES = 'INSUFFICIENT_FREE_PAGES'
PCI_DEVICE_MISSING = 'PCI_DEVICE_MISSING'
PCI_DEVICE_NOT_WHITELISTED = 'PCI_DEVICE_NOT_WHITELISTED'
PCI_DEVICE_IN_USE = 'PCI_DEVICE_IN_USE'
PCI_IOMMU_GROUP_SHARED = 'PCI_IOMMU_GROUP_SHARED'
SEV_UNAVAILABLE = 'SEV_UNAVAILABLE'

SMALL_PAGE_KB = 4


@dataclasses.dataclass(frozen=True, slots=True)
class Violation:
    reason: str
    detail: str

    def __str__(self):
        return f"{self.reason}: {self.detail}"


def verify(host, free_pages, running_assignments, assignment, pci_whitelist=None):
    """Every way ``assignment`` contradicts this host now.

    host: the agent's HostTopology; free_pages: {cell: {size_kb: free count}};
    running_assignments: Assignments of the other domains on the host (the
    instance itself is ignored if present); pci_whitelist: addresses allowed
    for passthrough (None: every device of the host topology).
    """
    others = [a for a in running_assignments if a.instance != assignment.instance]
    if assignment.host != host.name:
        return [Violation(WRONG_HOST, f"assignment is for host {assignment.host!r}, "
                                      f"this is {host.name!r}")]
    violations = _unknown_cells(host, assignment)
    if violations:
        return violations
    violations += _cpu_violations(host, others, assignment)
    violations += _page_violations(free_pages, assignment)
    violations += _pci_violations(host, others, assignment, pci_whitelist)
    violations += _sev_violations(host, others, assignment)
    return violations


def _unknown_cells(host, assignment):
    known = {cell.id for cell in host.cells}
    return [Violation(UNKNOWN_HOST_CELL, f"guest cell {c.guest_cell}: host cell {c.host_cell} "
                                         f"does not exist (cells {sorted(known)})")
            for c in assignment.cells if c.host_cell not in known]


def _cpu_violations(host, others, assignment):
    violations = []
    taken = set()
    for other in others:
        taken.update(other.pinned_pcpus)
    for cell in assignment.cells:
        held = set(cell.pinning.values()) | set(cell.reserved_pcpus)
        outside = held - host.cell(cell.host_cell).cpus
        if outside:
            violations.append(Violation(PCPU_NOT_DEDICATED, (
                f"host cell {cell.host_cell}: pCPUs {format_cpuset(outside)} are not in its "
                f"dedicated set {format_cpuset(host.cell(cell.host_cell).cpus)}")))
        clash = (held & taken) - outside
        if clash:
            violations.append(Violation(PCPU_ALREADY_PINNED, (
                f"host cell {cell.host_cell}: pCPUs {format_cpuset(clash)} are pinned by "
                f"another domain")))
    violations += _emulator_violations(host, taken, assignment)
    shared = frozenset().union(*(c.shared_cpus for c in host.cells))
    floating = set(assignment.shared_cpus).union(*(c.shared_cpus for c in assignment.cells))
    if floating - shared:
        violations.append(Violation(SHARED_CPU_NOT_SHARED, (
            f"pCPUs {format_cpuset(floating - shared)} are not in the host's shared set "
            f"{format_cpuset(shared)}")))
    return violations


def _emulator_violations(host, taken, assignment):
    """Exclusive emulator pCPUs (isolate) must be dedicated and free like vCPU pins."""
    exclusive = set(assignment.emulator_pcpus) - set(assignment.shared_cpus)
    for cell in assignment.cells:
        exclusive -= set(cell.pinning.values())   # 'share' without a shared set
    if not exclusive:
        return []
    dedicated = frozenset().union(*(c.cpus for c in host.cells))
    violations = []
    if exclusive - dedicated:
        violations.append(Violation(PCPU_NOT_DEDICATED, (
            f"emulator pCPUs {format_cpuset(exclusive - dedicated)} are not dedicated")))
    if exclusive & taken:
        violations.append(Violation(PCPU_ALREADY_PINNED, (
            f"emulator pCPUs {format_cpuset(exclusive & taken)} are pinned by another domain")))
    return violations


def _page_violations(free_pages, assignment):
    needed = {}
    for cell in assignment.cells:
        if cell.page_size_kb != SMALL_PAGE_KB:
            key = (cell.host_cell, cell.page_size_kb)
            needed[key] = needed.get(key, 0) + pages_of(cell)
    violations = []
    for (host_cell, size_kb), count in sorted(needed.items()):
        free = free_pages.get(host_cell, {}).get(size_kb, 0)
        if free < count:
            violations.append(Violation(INSUFFICIENT_FREE_PAGES, (
                f"host cell {host_cell}: {free} free {_size(size_kb)} pages, needs {count}")))
    return violations


def pages_of(cell):
    """Pages of its size a CellAssignment takes (a partial page is a page)."""
    return -(-cell.memory_mb * 1024 // cell.page_size_kb)


def pages_left(free_pages, assignments):
    """``free_pages`` minus the hugepages ``assignments`` will take (a new dict)."""
    left = {cell: dict(sizes) for cell, sizes in free_pages.items()}
    for assignment in assignments:
        for cell in assignment.cells:
            sizes = left.get(cell.host_cell, {})
            if cell.page_size_kb in sizes:
                sizes[cell.page_size_kb] -= pages_of(cell)
    return left


def _size(size_kb):
    return f"{size_kb // 1048576}G" if size_kb >= 1048576 else f"{size_kb // 1024}M"


def _pci_violations(host, others, assignment, pci_whitelist):
    devices = {d.address: d for d in host.pci_devices}
    allowed = set(devices) if pci_whitelist is None else set(pci_whitelist) & set(devices)
    held_elsewhere = {p.address for other in others for p in other.pci_devices}
    members = iommu.members_by_address(host.pci_devices)
    violations = []
    for address in sorted({p.address for p in assignment.pci_devices}):
        device = devices.get(address)
        if device is None:
            violations.append(Violation(PCI_DEVICE_MISSING, f"{address} is not on this host"))
            continue
        if address not in allowed:
            violations.append(Violation(PCI_DEVICE_NOT_WHITELISTED,
                                        f"{address} is not whitelisted for passthrough"))
        if address in held_elsewhere:
            violations.append(Violation(PCI_DEVICE_IN_USE, f"{address} is held by another "
                                                           'domain'))
        found = iommu.blockers(address, members[address], allowed, held_elsewhere)
        if found:
            violations.append(Violation(PCI_IOMMU_GROUP_SHARED, iommu.describe(
                address, device.iommu_group, found)))
    return violations


def _sev_violations(host, others, assignment):
    """No SEV-SNP on this host, or no slot left in the model's pool (wire/sev.py)."""
    model = sev.model_of(assignment)
    if model is None:
        return []
    refusal = sev.unsupported(host, model)
    if refusal is None:
        held = [sev.model_of(other) for other in others]
        refusal = sev.shortage(sum(1 for other in held if other and sev.pool(other) ==
                                   sev.pool(model)), host, model)
    return [Violation(SEV_UNAVAILABLE, refusal)] if refusal else []
