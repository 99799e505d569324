"""The exact resources the scheduler claims for one instance on one host.

An Assignment is decided once, centrally, and applied verbatim by the agent.
Every field is plain data so it serialises to JSON for the bus, the store and
the domain metadata.
"""

import dataclasses

from wire import fields, names
from wire.errors import FieldError
from wire.interning import shared, shared_tuple
from wire.limits import DEFAULT, MAX_NODE_ID

ASSIGNMENT_VERSION = 1


@dataclasses.dataclass(frozen=True, slots=True)
class CellAssignment:
    """One guest NUMA cell placed on one host cell."""

    guest_cell: int
    host_cell: int
    vcpus: tuple                 # guest vCPU ids in this guest cell
    memory_mb: int
    page_size_kb: int            # 4 for small pages
    pinning: dict                # vcpu -> pcpu, for dedicated vCPUs
    shared_cpus: frozenset       # pCPUs the unpinned vCPUs float over
    reserved_pcpus: frozenset = frozenset()  # held but unused (isolate siblings)


@dataclasses.dataclass(frozen=True, slots=True)
class PciAssignment:
    """One PCI device given to the instance, and what asked for it."""

    address: str
    host_cell: int | None
    request: str                 # "alias:<name>" or "port:<index>"
    physical_network: str | None = None
    iommu_group: int | None = None   # the group the instance holds with it (wire/iommu.py)


@dataclasses.dataclass(frozen=True, slots=True)
class Assignment:
    """Everything one instance holds on one host.

    ``cells`` is empty for a guest without NUMA topology; such a guest floats
    over ``shared_cpus`` and takes ``memory_mb`` of small pages host-wide.
    For a NUMA guest ``shared_cpus`` is the union of its cells' shared sets.
    ``emulator_pcpus`` are held exclusively with the ``isolate`` emulator
    threads policy; with ``share`` they are the shared set (or, with no
    shared set, the instance's own pinned pCPUs) and hold nothing more.
    """

    host: str
    instance: str
    vcpus: int
    memory_mb: int
    cells: tuple = ()
    shared_cpus: frozenset = frozenset()
    emulator_pcpus: frozenset = frozenset()
    pci_devices: tuple = ()
    sev: bool = False
    sev_es: bool = False             # an SEV-ES guest (wire/sev.py), only with ``sev``
    sev_snp: bool = False            # an SEV-SNP guest, only with ``sev_es``: an ES guest too

    @property
    def pinned_pcpus(self):
        """Every pCPU the instance holds exclusively."""
        held = set(self.emulator_pcpus)
        for cell in self.cells:
            held.update(cell.pinning.values())
            held.update(cell.reserved_pcpus)
        return frozenset(held) - self.shared_cpus

    def to_dict(self):
        return {
            'version': ASSIGNMENT_VERSION,
            'host': self.host, 'instance': self.instance,
            'vcpus': self.vcpus, 'memory_mb': self.memory_mb,
            'cells': [_cell_to_dict(c) for c in self.cells],
            'shared_cpus': sorted(self.shared_cpus),
            'emulator_pcpus': sorted(self.emulator_pcpus),
            'pci_devices': [_pci_to_dict(p) for p in self.pci_devices],
            'sev': self.sev,
        } | ({'sev_es': True} if self.sev_es else {}) | (
            {'sev_snp': True} if self.sev_snp else {})

    @classmethod
    def from_dict(cls, data, path='assignment', limits=DEFAULT):
        """Parse an assignment; ``limits`` (wire.limits.Limits) bounds lists and numbers."""
        fields.mapping(data, path, what='an object {host, instance, vcpus, ...}')
        cells = fields.listing(data.get('cells', []), f"{path}.cells", limits.max_cells)
        pcis = fields.listing(data.get('pci_devices', []), f"{path}.pci_devices",
                              limits.max_pci_devices)
        return cls(
            host=names.host_name(fields.require(data, 'host', path), f"{path}.host"),
            instance=names.instance_uuid(fields.require(data, 'instance', path),
                                         f"{path}.instance"),
            vcpus=fields.integer(fields.require(data, 'vcpus', path), f"{path}.vcpus", 1,
                                 limits.max_vcpus),
            memory_mb=fields.integer(fields.require(data, 'memory_mb', path),
                                     f"{path}.memory_mb", 1, limits.max_memory_mb),
            cells=shared_tuple(_cell_from_dict(c, f"{path}.cells[{i}]", limits)
                               for i, c in enumerate(cells)),
            shared_cpus=fields.cpuset(data.get('shared_cpus', []), f"{path}.shared_cpus",
                                      limits.max_cpu_id),
            emulator_pcpus=fields.cpuset(data.get('emulator_pcpus', []),
                                         f"{path}.emulator_pcpus", limits.max_cpu_id),
            pci_devices=shared_tuple(shared(_pci_from_dict(p, f"{path}.pci_devices[{i}]"))
                                     for i, p in enumerate(pcis)),
            **_sev_flags(data, path),
        )


def _sev_flags(data, path):
    """sev, sev_es and sev_snp, each implying the one before (wire/sev.py)."""
    sev = fields.boolean(data.get('sev', False), f"{path}.sev")
    sev_es = fields.boolean(data.get('sev_es', False), f"{path}.sev_es")
    sev_snp = fields.boolean(data.get('sev_snp', False), f"{path}.sev_snp")
    if sev_es and not sev:
        raise FieldError(f"{path}.sev_es", 'an SEV-ES guest is an SEV guest: needs sev true')
    if sev_snp and not sev_es:
        raise FieldError(f"{path}.sev_snp", 'an SEV-SNP guest is an SEV-ES guest (it takes an '
                                            'SEV-ES slot): needs sev_es true')
    return {'sev': sev, 'sev_es': sev_es, 'sev_snp': sev_snp}


def _cell_to_dict(cell):
    return {
        'guest_cell': cell.guest_cell, 'host_cell': cell.host_cell,
        'vcpus': list(cell.vcpus), 'memory_mb': cell.memory_mb,
        'page_size_kb': cell.page_size_kb,
        'pinning': {str(v): p for v, p in sorted(cell.pinning.items())},
        'shared_cpus': sorted(cell.shared_cpus),
        'reserved_pcpus': sorted(cell.reserved_pcpus),
    }


def _cell_from_dict(data, path, limits):
    fields.mapping(data, path, what='an object {guest_cell, host_cell, vcpus, ...}')
    pinning = fields.mapping(data.get('pinning', {}), f"{path}.pinning", limits.max_vcpus,
                             'an object {vcpu: pcpu}')
    max_cpu, max_vcpu = limits.max_cpu_id, limits.max_vcpu_id
    cell = CellAssignment(
        guest_cell=fields.integer(fields.require(data, 'guest_cell', path),
                                  f"{path}.guest_cell", 0, MAX_NODE_ID),
        host_cell=fields.integer(fields.require(data, 'host_cell', path),
                                 f"{path}.host_cell", 0, MAX_NODE_ID),
        vcpus=tuple(sorted(fields.cpuset(data.get('vcpus', []), f"{path}.vcpus", max_vcpu))),
        memory_mb=fields.integer(fields.require(data, 'memory_mb', path), f"{path}.memory_mb",
                                 1, limits.max_memory_mb),
        page_size_kb=fields.integer(data.get('page_size_kb', 4), f"{path}.page_size_kb", 4),
        pinning={fields.integer(v, f"{path}.pinning", 0, max_vcpu):
                 fields.integer(p, f"{path}.pinning.{v}", 0, max_cpu)
                 for v, p in pinning.items()},
        shared_cpus=fields.cpuset(data.get('shared_cpus', []), f"{path}.shared_cpus", max_cpu),
        reserved_pcpus=fields.cpuset(data.get('reserved_pcpus', []), f"{path}.reserved_pcpus",
                                     max_cpu),
    )
    # Guests of one shape on alike hosts share their cells (wire/interning.py); nothing
    # changes a pinning once parsed.  The sets are shared already: identity is their key.
    return shared(cell, (CellAssignment, cell.guest_cell, cell.host_cell, cell.vcpus,
                         cell.memory_mb, cell.page_size_kb, tuple(cell.pinning.items()),
                         id(cell.shared_cpus), id(cell.reserved_pcpus)))


def _pci_to_dict(pci):
    result = dataclasses.asdict(pci)
    if pci.iommu_group is None:      # as assignments read before IOMMU groups were claimed
        del result['iommu_group']
    return result


def _pci_from_dict(data, path):
    fields.mapping(data, path, what='an object {address, request, ...}')
    node, physnet = data.get('host_cell'), data.get('physical_network')
    group = data.get('iommu_group')
    return PciAssignment(
        # Text here: that it names a device of the host is checked against the topology.
        address=fields.string(fields.require(data, 'address', path), f"{path}.address"),
        host_cell=None if node is None else fields.integer(node, f"{path}.host_cell",
                                                           0, MAX_NODE_ID),
        request=fields.string(fields.require(data, 'request', path), f"{path}.request"),
        physical_network=None if physnet is None else fields.string(
            physnet, f"{path}.physical_network"),
        iommu_group=None if group is None else fields.integer(group, f"{path}.iommu_group"),
    )
