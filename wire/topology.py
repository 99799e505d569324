"""What a host has: NUMA cells, CPUs, memory, page pools, PCI devices.

This is the fleet-file ``host`` object (docs/fleet-file.md) and what an agent
reports.  Values are immutable; what is *used* lives in the scheduler's usage
records, derived from ``instances``.
"""

import dataclasses

from wire import consistency, fields
from wire.assignment import Assignment
from wire.errors import Collector, FieldError

SMALL_PAGE_KB = 4
PCI_TYPES = ('type-PF', 'type-VF', 'type-PCI')


@dataclasses.dataclass(frozen=True, slots=True)
class Cell:
    """One host NUMA cell.

    ``memory_mb`` is the cell's whole memory, hugepage pools included;
    ``pages`` maps a hugepage size in KiB to the pool's page count.
    """

    id: int
    cpus: frozenset                  # dedicated pCPUs (for pinned guests)
    shared_cpus: frozenset = frozenset()  # pCPUs for floating vCPUs
    siblings: tuple = ()             # tuple of frozensets of thread siblings
    memory_mb: int = 0
    pages: dict = dataclasses.field(default_factory=dict)
    reserved_memory_mb: int = 0      # small-page memory kept for the host

    @property
    def hugepage_mb(self):
        return sum(size * count for size, count in self.pages.items()) // 1024

    @property
    def small_page_mb(self):
        """Memory left for small-page guests once pools and reserve are taken."""
        return max(0, self.memory_mb - self.hugepage_mb - self.reserved_memory_mb)

    def sibling_set(self, cpu):
        """The thread siblings of ``cpu`` (itself included)."""
        for group in self.siblings:
            if cpu in group:
                return group
        return frozenset((cpu,))


@dataclasses.dataclass(frozen=True, slots=True)
class PciDevice:
    address: str
    vendor_id: str
    product_id: str
    type: str = 'type-PCI'
    parent: str | None = None        # PF address, for a VF
    numa_node: int | None = None
    physical_network: str | None = None
    iommu_group: int | None = None
    iommu_group_members: tuple = ()  # every address in its IOMMU group (wire/iommu.py)


@dataclasses.dataclass(frozen=True, slots=True)
class Instance:
    """An instance already on the host, with what it holds."""

    uuid: str
    name: str
    assignment: Assignment
    server_group: str | None = None
    request: dict | None = None      # the request as submitted, for reference


@dataclasses.dataclass(frozen=True, slots=True)
class HostTopology:
    name: str
    cells: tuple
    pci_devices: tuple = ()
    sev_slots: int = 0
    secure_boot: bool = False
    traits: frozenset = frozenset()
    aggregates: dict = dataclasses.field(default_factory=dict)  # name -> metadata
    instances: tuple = ()
    enabled: bool = True
    up: bool = True

    def cell(self, cell_id):
        for cell in self.cells:
            if cell.id == cell_id:
                return cell
        raise KeyError(cell_id)

    def to_dict(self):
        return {
            'name': self.name,
            'cells': [_cell_to_dict(c) for c in self.cells],
            'pci_devices': [_pci_to_dict(d) for d in self.pci_devices],
            'sev_slots': self.sev_slots, 'secure_boot': self.secure_boot,
            'traits': sorted(self.traits),
            'aggregates': {k: dict(v) for k, v in sorted(self.aggregates.items())},
            'instances': [_instance_to_dict(i) for i in self.instances],
            'enabled': self.enabled, 'up': self.up,
        }

    @classmethod
    def from_dict(cls, data, path='host'):
        """Parse a fleet-file host; raises InvalidInput listing every bad field."""
        errors = Collector()
        name = _collect(errors, lambda: fields.string(fields.require(data, 'name', path),
                                                      f"{path}.name"))
        cells = _collect(errors, lambda: _cells(data, path), ())
        pcis = _collect(errors, lambda: _pci_devices(data, path), ())
        instances = _collect(errors, lambda: _instances(data, path), ())
        scalars = _collect(errors, lambda: _scalars(data, path), {})
        errors.raise_if_any()
        host = cls(name=name, cells=cells, pci_devices=pcis, instances=instances, **scalars)
        consistency.check(host, path)
        return host


def _collect(errors, parse, default=None):
    try:
        return parse()
    except FieldError as exc:
        errors.extend([exc])
    return default


def _cells(data, path):
    raw = fields.listing(fields.require(data, 'cells', path), f"{path}.cells")
    if not raw:
        raise FieldError(f"{path}.cells", 'a host has at least one NUMA cell')
    cells = tuple(_cell_from_dict(c, f"{path}.cells[{i}]") for i, c in enumerate(raw))
    ids = [c.id for c in cells]
    if len(set(ids)) != len(ids):
        raise FieldError(f"{path}.cells", f"cell ids {ids} are not unique")
    return cells


def _cell_from_dict(data, path):
    cell_id = fields.integer(fields.require(data, 'id', path), f"{path}.id")
    cpus = fields.cpuset(data.get('cpus', []), f"{path}.cpus")
    shared = fields.cpuset(data.get('shared_cpus', []), f"{path}.shared_cpus")
    siblings = tuple(fields.cpuset(s, f"{path}.siblings[{i}]")
                     for i, s in enumerate(fields.listing(data.get('siblings', []),
                                                          f"{path}.siblings")))
    pages_raw = data.get('pages', {}) or {}
    if not isinstance(pages_raw, dict):
        raise FieldError(f"{path}.pages", 'expected an object {"<size_kb>": count}')
    pages = {}
    for size, count in pages_raw.items():
        size_kb = fields.integer(size, f"{path}.pages", SMALL_PAGE_KB)
        if size_kb != SMALL_PAGE_KB:   # small pages are derived from memory_mb
            pages[size_kb] = fields.integer(count, f"{path}.pages.{size}")
    return Cell(id=cell_id, cpus=cpus, shared_cpus=shared, siblings=siblings,
                memory_mb=fields.integer(fields.require(data, 'memory_mb', path),
                                         f"{path}.memory_mb"),
                pages=pages,
                reserved_memory_mb=fields.integer(data.get('reserved_memory_mb', 0),
                                                  f"{path}.reserved_memory_mb"))


def _pci_devices(data, path):
    raw = fields.listing(data.get('pci_devices', []) or [], f"{path}.pci_devices")
    devices = []
    for i, item in enumerate(raw):
        where = f"{path}.pci_devices[{i}]"
        dev_type = item.get('type', 'type-PCI') if isinstance(item, dict) else None
        if dev_type not in PCI_TYPES:
            raise FieldError(f"{where}.type", f"{dev_type!r} is not one of {', '.join(PCI_TYPES)}")
        node = item.get('numa_node')
        group = item.get('iommu_group')
        devices.append(PciDevice(
            address=fields.string(fields.require(item, 'address', where), f"{where}.address"),
            vendor_id=str(fields.require(item, 'vendor_id', where)),
            product_id=str(fields.require(item, 'product_id', where)),
            type=dev_type, parent=item.get('parent'),
            numa_node=None if node is None else fields.integer(node, f"{where}.numa_node"),
            physical_network=item.get('physical_network'),
            iommu_group=None if group is None else fields.integer(group, f"{where}.iommu_group"),
            iommu_group_members=_members(item, where),
        ))
    return tuple(devices)


def _members(item, where):
    raw = fields.listing(item.get('iommu_group_members') or [], f"{where}.iommu_group_members")
    return tuple(fields.string(member, f"{where}.iommu_group_members[{i}]")
                 for i, member in enumerate(raw))


def _instances(data, path):
    raw = fields.listing(data.get('instances', []) or [], f"{path}.instances")
    result = []
    for i, item in enumerate(raw):
        where = f"{path}.instances[{i}]"
        assignment = Assignment.from_dict(fields.require(item, 'assignment', where),
                                          f"{where}.assignment")
        uuid = str(item.get('uuid') or assignment.instance)
        result.append(Instance(uuid=uuid, name=str(item.get('name') or uuid),
                               assignment=assignment, server_group=item.get('server_group'),
                               request=item.get('request')))
    return tuple(result)


def _scalars(data, path):
    aggregates = data.get('aggregates', {}) or {}
    if isinstance(aggregates, list):   # bare names, no metadata
        aggregates = {str(name): {} for name in aggregates}
    if not isinstance(aggregates, dict):
        raise FieldError(f"{path}.aggregates", 'expected {name: {key: value}} or [name, ...]')
    return {
        'sev_slots': fields.integer(data.get('sev_slots', 0), f"{path}.sev_slots"),
        'secure_boot': fields.boolean(data.get('secure_boot', False), f"{path}.secure_boot"),
        'traits': frozenset(fields.listing(data.get('traits', []) or [], f"{path}.traits")),
        'aggregates': {str(k): {str(mk): str(mv) for mk, mv in (v or {}).items()}
                       for k, v in aggregates.items()},
        'enabled': fields.boolean(data.get('enabled', True), f"{path}.enabled"),
        'up': fields.boolean(data.get('up', True), f"{path}.up"),
    }


def _cell_to_dict(cell):
    result = {
        'id': cell.id, 'cpus': sorted(cell.cpus), 'shared_cpus': sorted(cell.shared_cpus),
        'siblings': [sorted(s) for s in cell.siblings], 'memory_mb': cell.memory_mb,
        'pages': {str(size): count for size, count in sorted(cell.pages.items())},
    }
    if cell.reserved_memory_mb:
        result['reserved_memory_mb'] = cell.reserved_memory_mb
    return result


def _pci_to_dict(device):
    result = dataclasses.asdict(device)
    result['iommu_group_members'] = list(device.iommu_group_members)
    if not device.iommu_group_members:   # older readers and stored topologies lack it
        del result['iommu_group_members']
    return result


def _instance_to_dict(instance):
    result = {'uuid': instance.uuid, 'name': instance.name,
              'assignment': instance.assignment.to_dict()}
    if instance.server_group:
        result['server_group'] = instance.server_group
    if instance.request is not None:
        result['request'] = instance.request
    return result
