"""What a host's instances hold, as a value.

``consume`` and ``release`` return a new HostUsage and never touch the old
one, so a decision can be tried against a host without undoing anything.
"""

import dataclasses

from wire import sev
from wire.topology import SMALL_PAGE_KB


def _add(mapping, key, delta):
    """A copy of ``mapping`` with ``delta`` added at ``key``; zero entries are
    dropped so that releasing what was consumed gives back an equal value."""
    result = dict(mapping)
    value = result.get(key, 0) + delta
    if value:
        result[key] = value
    else:
        result.pop(key, None)
    return result


@dataclasses.dataclass(frozen=True, slots=True)
class HostUsage:
    pinned: frozenset = frozenset()   # pCPUs held exclusively (ids are host-wide)
    shared_vcpus_by_cell: dict = dataclasses.field(default_factory=dict)  # cell -> int
    small_mb_by_cell: dict = dataclasses.field(default_factory=dict)      # cell -> MiB
    pages_by_cell: dict = dataclasses.field(default_factory=dict)         # cell -> {kb: n}
    floating_vcpus: int = 0       # vCPUs of guests without NUMA topology
    floating_memory_mb: int = 0   # small-page MiB of guests without NUMA topology
    pci_used: frozenset = frozenset()
    sev_used: int = 0             # plain SEV guests
    sev_es_used: int = 0          # SEV-ES and SEV-SNP guests (their own pool, wire/sev.py)
    instances: int = 0

    @classmethod
    def of_host(cls, host):
        """Usage of the instances the host already runs."""
        usage = cls()
        for instance in host.instances:
            usage = usage.consume(instance.assignment)
        return usage

    def free_pcpus(self, cell):
        """Dedicated pCPUs of ``cell`` that nothing holds."""
        return cell.cpus - self.pinned

    def pages_used(self, cell_id, size_kb):
        return self.pages_by_cell.get(cell_id, {}).get(size_kb, 0)

    @property
    def shared_vcpus(self):
        return self.floating_vcpus + sum(self.shared_vcpus_by_cell.values())

    @property
    def small_memory_mb(self):
        return self.floating_memory_mb + sum(self.small_mb_by_cell.values())

    def consume(self, assignment):
        return self._apply(assignment, +1)

    def release(self, assignment):
        return self._apply(assignment, -1)

    def _apply(self, assignment, sign):
        held = set(assignment.emulator_pcpus - assignment.shared_cpus)
        shared = dict(self.shared_vcpus_by_cell)
        small = dict(self.small_mb_by_cell)
        pages = dict(self.pages_by_cell)
        for cell in assignment.cells:
            held.update(cell.pinning.values())
            held.update(cell.reserved_pcpus)
            floating = len(cell.vcpus) - len(cell.pinning)
            shared = _add(shared, cell.host_cell, sign * floating)
            if cell.page_size_kb == SMALL_PAGE_KB:
                small = _add(small, cell.host_cell, sign * cell.memory_mb)
            else:
                count = cell.memory_mb * 1024 // cell.page_size_kb
                sizes = _add(pages.get(cell.host_cell, {}), cell.page_size_kb, sign * count)
                if sizes:
                    pages[cell.host_cell] = sizes
                else:
                    pages.pop(cell.host_cell, None)
        numa = bool(assignment.cells)
        addresses = frozenset(p.address for p in assignment.pci_devices)
        return HostUsage(
            pinned=self.pinned | held if sign > 0 else self.pinned - held,
            shared_vcpus_by_cell=shared,
            small_mb_by_cell=small, pages_by_cell=pages,
            floating_vcpus=self.floating_vcpus + (0 if numa else sign * assignment.vcpus),
            floating_memory_mb=self.floating_memory_mb + (
                0 if numa else sign * assignment.memory_mb),
            pci_used=self.pci_used | addresses if sign > 0 else self.pci_used - addresses,
            sev_used=self.sev_used + (sign if _sev_pool(assignment) == sev.SEV else 0),
            sev_es_used=self.sev_es_used + (sign if _sev_pool(assignment) == sev.SEV_ES else 0),
            instances=self.instances + sign,
        )


def _sev_pool(assignment):
    model = sev.model_of(assignment)
    return None if model is None else sev.pool(model)
