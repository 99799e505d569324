"""Which pools of a host its instances hold beyond capacity, if any.

The fit never produces an overrun; this is the independent check of the
result.  It counts what the instances hold, pool by pool (pinned pCPUs,
hugepages per cell and size, small-page memory per cell and host-wide,
floating vCPUs per cell and host-wide, PCI devices, SEV slots, SEV-SNP support), with the
allocation ratios of the policy, and says in one line per pool what is over.
Reconciliation refuses to adopt a domain that would overrun a pool, and the
concurrency tests audit the store with it.
"""

import collections

from scheduler.fitting.facts import facts_of
from scheduler.fitting.usage import HostUsage
from wire import sev


def overruns(host, policy, assignments=None):
    """One line per pool of ``host`` that ``assignments`` (default: its instances') overrun."""
    if assignments is None:
        assignments = [instance.assignment for instance in host.instances]
    usage = HostUsage()
    for assignment in assignments:
        usage = usage.consume(assignment)
    return (_held_twice(assignments) + _pcpus(host, usage) + _cells(host, usage, policy)
            + _hostwide(host, usage, policy) + _devices(host, usage)
            + _unsupported_sev(host, assignments))


def _held_twice(assignments):
    counts = collections.Counter()
    for assignment in assignments:
        counts.update(('pCPU', cpu) for cpu in assignment.pinned_pcpus)
        counts.update(('PCI device', p.address) for p in assignment.pci_devices)
    return [f"{kind} {key} held by {count} instances"
            for (kind, key), count in sorted(counts.items(), key=str) if count > 1]


def _unsupported_sev(host, assignments):
    """Guests of a model the host cannot run at all (SEV-SNP on a host without it)."""
    counts = collections.Counter(sev.model_of(a) for a in assignments)
    return [f"host: {counts[model]} {sev.LABELS[model]} guests, the host has no "
            f"{sev.LABELS[model]} support"
            for model in sev.MODELS if counts[model] and not sev.supported(host, model)]


def _pcpus(host, usage):
    dedicated = frozenset().union(*(cell.cpus for cell in host.cells))
    foreign = usage.pinned - dedicated
    if not foreign:
        return []
    return [f"pinned pCPUs {sorted(foreign)} are not dedicated pCPUs of the host"]


def _cells(host, usage, policy):
    lines = []
    for cell in host.cells:
        for size_kb, used in sorted(usage.pages_by_cell.get(cell.id, {}).items()):
            pool = cell.pages.get(size_kb, 0)
            if used > pool:
                lines.append(f"cell {cell.id}: {used} pages of {size_kb} KiB held, "
                             f"pool has {pool}")
        small = usage.small_mb_by_cell.get(cell.id, 0)
        small_room = int(cell.small_page_mb * policy.ram_allocation_ratio)
        if small > small_room:
            lines.append(f"cell {cell.id}: {small} MiB of small pages held, room for {small_room}")
        shared = usage.shared_vcpus_by_cell.get(cell.id, 0)
        shared_room = int(len(cell.shared_cpus) * policy.cpu_allocation_ratio)
        if shared > shared_room:
            lines.append(f"cell {cell.id}: {shared} floating vCPUs, room for {shared_room}")
    return lines


def _hostwide(host, usage, policy):
    facts = facts_of(host)
    lines = []
    memory_room = int(facts.small_total_mb * policy.ram_allocation_ratio)
    if usage.small_memory_mb > memory_room:
        lines.append(f"host: {usage.small_memory_mb} MiB of small pages held, "
                     f"room for {memory_room}")
    vcpu_room = int(facts.shared_total * policy.cpu_allocation_ratio)
    if usage.shared_vcpus > vcpu_room:
        lines.append(f"host: {usage.shared_vcpus} floating vCPUs, room for {vcpu_room}")
    for model in sev.POOLS:             # SEV-SNP guests are counted in the SEV-ES pool
        if sev.used(usage, model) > sev.slots(host, model):
            lines.append(f"host: {sev.used(usage, model)} {sev.LABELS[model]} guests, "
                         f"{sev.slots(host, model)} slots")
    return lines


def _devices(host, usage):
    known = {device.address: device for device in host.pci_devices}
    foreign = sorted(usage.pci_used - known.keys())
    lines = [f"PCI devices {foreign} are not devices of the host"] if foreign else []
    for address in sorted(usage.pci_used & known.keys()):
        parent = known[address].parent
        if parent in usage.pci_used:   # a PF given whole has no VFs to give
            lines.append(f"VF {address} and its PF {parent} are both held")
    return lines
