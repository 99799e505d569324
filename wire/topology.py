"""What a host has: NUMA cells, CPUs, memory, page pools, PCI devices.

This is the fleet-file ``host`` object (docs/fleet-file.md) and what an agent
reports.  Values are immutable; what is *used* lives in the scheduler's usage
records, derived from ``instances``.
"""

import dataclasses

from wire import consistency, fields, names
from wire.assignment import Assignment
from wire.errors import Collector, FieldError, InvalidInput
from wire.interning import shared, shared_tuple
from wire.limits import DEFAULT, MAX_NODE_ID, MAX_PAGE_SIZES, MAX_SOCKET_ID

SMALL_PAGE_KB = 4
PCI_TYPES = ('type-PF', 'type-VF', 'type-PCI')


def page_label(size_kb):
    """Human page size: 2048 -> '2M', 1048576 -> '1G', 4 -> '4K'."""
    if size_kb % (1024 * 1024) == 0:
        return f"{size_kb // (1024 * 1024)}G"
    if size_kb % 1024 == 0:
        return f"{size_kb // 1024}M"
    return f"{size_kb}K"


@dataclasses.dataclass(frozen=True, slots=True)
class Cell:
    """One host NUMA cell.

    ``memory_mb`` is the cell's whole memory, hugepage pools included;
    ``pages`` maps a hugepage size in KiB to the pool's page count;
    ``socket`` is the CPU socket (package) the cell is on, None when unknown.
    """

    id: int
    cpus: frozenset                  # dedicated pCPUs (for pinned guests)
    shared_cpus: frozenset = frozenset()  # pCPUs for floating vCPUs
    siblings: tuple = ()             # tuple of frozensets of thread siblings
    memory_mb: int = 0
    pages: dict = dataclasses.field(default_factory=dict)
    reserved_memory_mb: int = 0      # small-page memory kept for the host
    socket: int | None = None        # CPU socket of the cell (PCI policy ``socket``)

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
    sev_slots: int = 0               # plain SEV guests (libvirt maxGuests)
    sev_es_slots: int = 0            # SEV-ES and SEV-SNP guests (maxESGuests), a pool of its own
    sev_snp_supported: bool = False  # SEV-SNP guests can run (they take sev_es_slots)
    secure_boot: bool = False
    traits: frozenset = frozenset()
    aggregates: dict = dataclasses.field(default_factory=dict)  # name -> metadata
    instances: tuple = ()
    enabled: bool = True
    up: bool = True
    images: frozenset | None = None   # images the agent has; None: not reported (any)

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
            'sev_slots': self.sev_slots, 'sev_es_slots': self.sev_es_slots,
            'sev_snp_supported': self.sev_snp_supported, 'secure_boot': self.secure_boot,
            'traits': sorted(self.traits),
            'aggregates': {k: dict(v) for k, v in sorted(self.aggregates.items())},
            'instances': [_instance_to_dict(i) for i in self.instances],
            'enabled': self.enabled, 'up': self.up,
        } | ({} if self.images is None else {'images': sorted(self.images)})

    @classmethod
    def from_dict(cls, data, path='host', limits=DEFAULT):
        """Parse a fleet-file host; raises InvalidInput listing every bad field.

        ``limits`` (wire.limits.Limits) bounds every list and number.
        """
        if not isinstance(data, dict):
            raise InvalidInput([FieldError(path, 'expected an object {name, cells, ...}')])
        errors = Collector()
        name = _collect(errors, lambda: names.host_name(fields.require(data, 'name', path),
                                                        f"{path}.name"))
        cells = _collect(errors, lambda: _cells(data, path, limits), ())
        pcis = _collect(errors, lambda: _pci_devices(data, path, limits), ())
        instances = _collect(errors, lambda: _instances(data, path, limits), ())
        scalars = _collect(errors, lambda: _scalars(data, path, limits), {})
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


def _cells(data, path, limits):
    raw = fields.listing(fields.require(data, 'cells', path), f"{path}.cells",
                         limits.max_cells)
    if not raw:
        raise FieldError(f"{path}.cells", 'a host has at least one NUMA cell')
    cells = shared_tuple(_cell_from_dict(c, f"{path}.cells[{i}]", limits.max_cpu_id)
                         for i, c in enumerate(raw))
    ids = [c.id for c in cells]
    if len(set(ids)) != len(ids):
        raise FieldError(f"{path}.cells", f"cell ids {ids} are not unique")
    return cells


def _cell_from_dict(data, path, max_cpu):
    cell_id = fields.integer(fields.require(data, 'id', path), f"{path}.id", 0, MAX_NODE_ID)
    socket = data.get('socket')
    cpus = fields.cpuset(data.get('cpus', []), f"{path}.cpus", max_cpu)
    shared_cpus = fields.cpuset(data.get('shared_cpus', []), f"{path}.shared_cpus", max_cpu)
    siblings = shared_tuple(fields.cpuset(s, f"{path}.siblings[{i}]", max_cpu)
                            for i, s in enumerate(fields.listing(data.get('siblings', []),
                                                                 f"{path}.siblings",
                                                                 max_cpu + 1)))
    pages_raw = data.get('pages', {}) or {}
    fields.mapping(pages_raw, f"{path}.pages", MAX_PAGE_SIZES, 'an object {"<size_kb>": count}')
    pages = {}
    for size, count in pages_raw.items():
        size_kb = fields.integer(size, f"{path}.pages", SMALL_PAGE_KB)
        if size_kb != SMALL_PAGE_KB:   # small pages are derived from memory_mb
            pages[size_kb] = fields.integer(count, f"{path}.pages.{size}")
    memory_mb = fields.integer(fields.require(data, 'memory_mb', path), f"{path}.memory_mb")
    reserved = fields.integer(data.get('reserved_memory_mb', 0), f"{path}.reserved_memory_mb")
    socket = None if socket is None else fields.integer(socket, f"{path}.socket", 0,
                                                        MAX_SOCKET_ID)
    # Alike hosts share their cells (wire/interning.py): nothing changes a Cell's pages.
    # The sets are shared already: their identity is their key (and their order).
    key = (Cell, cell_id, id(cpus), id(shared_cpus), id(siblings), memory_mb,
           tuple(pages.items()), reserved, socket)
    return shared(Cell(id=cell_id, cpus=cpus, shared_cpus=shared_cpus, siblings=siblings,
                       memory_mb=memory_mb, pages=pages, reserved_memory_mb=reserved,
                       socket=socket), key)


def _pci_devices(data, path, limits):
    raw = fields.listing(data.get('pci_devices', []) or [], f"{path}.pci_devices",
                         limits.max_pci_devices)
    devices = []
    for i, item in enumerate(raw):
        where = f"{path}.pci_devices[{i}]"
        fields.mapping(item, where, what='an object {address, vendor_id, product_id, ...}')
        dev_type = item.get('type', 'type-PCI')
        if not isinstance(dev_type, str) or dev_type not in PCI_TYPES:
            raise FieldError(f"{where}.type", f"{dev_type!r} is not one of {', '.join(PCI_TYPES)}")
        node = item.get('numa_node')
        group = item.get('iommu_group')
        devices.append(PciDevice(
            address=names.pci_address(fields.require(item, 'address', where),
                                      f"{where}.address"),
            vendor_id=names.pci_id(fields.require(item, 'vendor_id', where),
                                   f"{where}.vendor_id"),
            product_id=names.pci_id(fields.require(item, 'product_id', where),
                                    f"{where}.product_id"),
            type=dev_type, parent=_optional(names.pci_address, item, 'parent', where),
            numa_node=None if node is None else fields.integer(node, f"{where}.numa_node",
                                                               0, MAX_NODE_ID),
            physical_network=_optional(fields.string, item, 'physical_network', where),
            iommu_group=None if group is None else fields.integer(group, f"{where}.iommu_group"),
            iommu_group_members=_members(item, where, limits),
        ))
    return shared_tuple(shared(device) for device in devices)


def _members(item, where, limits):
    raw = fields.listing(item.get('iommu_group_members') or [], f"{where}.iommu_group_members",
                         limits.max_pci_devices)
    return tuple(names.pci_address(member, f"{where}.iommu_group_members[{i}]")
                 for i, member in enumerate(raw))


def _instances(data, path, limits):
    raw = fields.listing(data.get('instances', []) or [], f"{path}.instances",
                         limits.max_instances)
    result = []
    for i, item in enumerate(raw):
        where = f"{path}.instances[{i}]"
        assignment = Assignment.from_dict(fields.require(item, 'assignment', where),
                                          f"{where}.assignment", limits)
        uuid = names.instance_uuid(item.get('uuid') or assignment.instance, f"{where}.uuid")
        request = item.get('request')
        if request is not None:
            fields.mapping(request, f"{where}.request", what='an object (the request)')
        result.append(Instance(
            uuid=uuid, assignment=assignment, request=request,
            name=names.instance_name(item.get('name') or uuid, f"{where}.name",
                                     limits.max_string_length),
            server_group=_optional(fields.string, item, 'server_group', where)))
    return tuple(result)


def _optional(reader, item, key, where):
    value = item.get(key)
    return None if value is None else reader(value, f"{where}.{key}")


def _scalars(data, path, limits):
    traits = fields.listing(data.get('traits', []) or [], f"{path}.traits", limits.max_traits)
    return {
        'sev_slots': fields.integer(data.get('sev_slots', 0), f"{path}.sev_slots"),
        'sev_es_slots': fields.integer(data.get('sev_es_slots', 0), f"{path}.sev_es_slots"),
        'sev_snp_supported': fields.boolean(data.get('sev_snp_supported', False),
                                            f"{path}.sev_snp_supported"),
        'secure_boot': fields.boolean(data.get('secure_boot', False), f"{path}.secure_boot"),
        'traits': shared(frozenset(names.trait(t, f"{path}.traits[{i}]")
                                   for i, t in enumerate(traits))),
        'aggregates': _aggregates(data.get('aggregates', {}) or {}, f"{path}.aggregates",
                                  limits.max_aggregates),
        'enabled': fields.boolean(data.get('enabled', True), f"{path}.enabled"),
        'up': fields.boolean(data.get('up', True), f"{path}.up"),
        'images': _images(data.get('images'), f"{path}.images", limits.max_traits),
    }


def _images(raw, path, max_items):
    """The image names an agent reports (None: it reports none, any image may be there)."""
    if raw is None:
        return None
    return shared(frozenset(names.identifier(name, f"{path}[{i}]", what='an image name')
                            for i, name in enumerate(fields.listing(raw, path, max_items))))


def _aggregates(raw, path, max_items):
    """{name: {key: value}} (or bare names), every name, key and value a string."""
    if isinstance(raw, list):   # bare names, no metadata
        raw = {fields.string(name, f"{path}[{i}]"): {} for i, name in enumerate(
            fields.listing(raw, path, max_items))}
    fields.mapping(raw, path, max_items, 'an object {name: {key: value}} or [name, ...]')
    result = {}
    for name, metadata in raw.items():
        where = f"{path}.{fields.string(name, path)}"
        metadata = fields.mapping(metadata or {}, where, max_items, 'an object {key: value}')
        result[name] = {fields.string(key, where): _metadata_value(value, f"{where}.{key}")
                        for key, value in metadata.items()}
    # nothing changes a host's aggregates once parsed: alike hosts share them
    return shared(result, (dict, tuple((name, tuple(metadata.items()))
                                       for name, metadata in result.items())))


def _metadata_value(value, where):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)    # numbers were always accepted, as their text
    problem = fields.text_problem(value, DEFAULT.max_string_length)
    if problem:
        raise FieldError(where, problem)
    return value


def _cell_to_dict(cell):
    result = {
        'id': cell.id, 'cpus': sorted(cell.cpus), 'shared_cpus': sorted(cell.shared_cpus),
        'siblings': [sorted(s) for s in cell.siblings], 'memory_mb': cell.memory_mb,
        'pages': {str(size): count for size, count in sorted(cell.pages.items())},
    }
    if cell.reserved_memory_mb:
        result['reserved_memory_mb'] = cell.reserved_memory_mb
    if cell.socket is not None:     # absent: unknown (older agents and fleet files)
        result['socket'] = cell.socket
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
