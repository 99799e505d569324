"""Consistency of a host topology: its fields checked against each other.

The parser (wire/topology.py) reads each field on its own; a topology whose
fields contradict each other would make the engine double-book (a pCPU
dedicated in one cell and shared in another was pinned to one guest and
floated for three more).  ``check`` applies every rule below to a fleet-file
host and a host report alike (both go through ``HostTopology.from_dict``) and
raises InvalidInput with every broken rule, each naming the field:

* a pCPU is in at most one set (``cpus`` or ``shared_cpus``) of one cell;
* a sibling group lies within the host: its CPUs are in its own cell's sets
  or in no cell's (host-only threads), and a CPU is in at most one group;
* a PCI address is ``dddd:bb:ss.f`` in lower-case hex and unique on the host;
* a device's ``numa_node`` is a cell of the host;
* a VF's ``parent`` is a well-formed address and, when the host lists it, a
  ``type-PF`` device (a PF the host keeps for itself is not listed: only
  passthrough devices are); only a VF has a parent;
* ``iommu_group_members`` (well-formed addresses, the device itself among
  them) need an ``iommu_group``, and devices sharing a group list the same
  members;
* a page pool's size is a power of two of at least 4 KiB and the pools fit
  the cell's ``memory_mb``;
* running ``instances`` fit the topology and do not overlap (Ledger).
"""


from wire import iommu
from wire.cpuset import format_cpuset
from wire.errors import FieldError, InvalidInput
from wire.names import PCI_ADDRESS, PCI_ADDRESS_RULE

SMALL_PAGE_KB = 4


def check(host, path='host'):
    """Raise InvalidInput listing every consistency rule ``host`` breaks."""
    errors = _cpu_errors(host, path) + _sibling_errors(host, path)
    errors += _page_errors(host, path) + _pci_errors(host, path)
    if not errors:    # instances are checked against a topology that holds together
        errors += _instance_errors(host, path)
    if errors:
        raise InvalidInput(errors)


def _cpu_errors(host, path):
    seen = frozenset()
    owners = []           # (cell index, set name, pCPUs) in order, to name the first owner
    errors = []
    for index, cell in enumerate(host.cells):
        for name in ('cpus', 'shared_cpus'):
            cpus = getattr(cell, name)
            clash = cpus & seen
            if clash:
                first = next((i, n) for i, n, owned in owners if owned & clash)
                errors.append(_clash(path, index, name, sorted(clash), first))
            seen |= cpus
            owners.append((index, name, cpus))
    return errors


def _clash(path, index, name, clash, first):
    field = f"{path}.cells[{index}].{name}"
    if first[0] == index:   # the message this case always had
        return FieldError(field, f"CPUs {clash} are also dedicated (cpus)")
    return FieldError(field, f"pCPUs {format_cpuset(clash)} are also in "
                             f"{path}.cells[{first[0]}].{first[1]}: a pCPU is in one set "
                             'of one cell')


def _sibling_errors(host, path):
    guest_cpus = frozenset().union(*(cell.cpus | cell.shared_cpus for cell in host.cells))
    grouped = set()
    errors = []
    for index, cell in enumerate(host.cells):
        elsewhere = guest_cpus - cell.cpus - cell.shared_cpus
        for number, group in enumerate(cell.siblings):
            field = f"{path}.cells[{index}].siblings[{number}]"
            foreign = group & elsewhere
            if foreign:
                errors.append(FieldError(field, f"CPUs {format_cpuset(foreign)} belong to "
                                                "another cell: siblings stay within their cell"))
            twice = group & grouped
            if twice:
                errors.append(FieldError(field, f"CPUs {format_cpuset(twice)} are in another "
                                                "sibling group: a CPU is in one group"))
            grouped |= group
    return errors


def _page_errors(host, path):
    errors = []
    for index, cell in enumerate(host.cells):
        for size_kb in sorted(cell.pages):
            if size_kb < SMALL_PAGE_KB or size_kb & (size_kb - 1):
                errors.append(FieldError(f"{path}.cells[{index}].pages.{size_kb}",
                                         'a page size is a power of two of at least 4 KiB'))
        if cell.hugepage_mb > cell.memory_mb:
            errors.append(FieldError(f"{path}.cells[{index}].pages",
                                     f"pools hold {cell.hugepage_mb} MiB, more than "
                                     f"memory_mb {cell.memory_mb}"))
    return errors


def _pci_errors(host, path):
    cells = {cell.id for cell in host.cells}
    types = {}
    errors = []
    for index, device in enumerate(host.pci_devices):
        where = f"{path}.pci_devices[{index}]"
        if not PCI_ADDRESS.match(device.address):
            errors.append(FieldError(f"{where}.address", f"{device.address!r} {PCI_ADDRESS_RULE}"))
        elif device.address in types:
            errors.append(FieldError(f"{where}.address", f"{device.address} is listed twice: "
                                                         'an address is unique on a host'))
        types.setdefault(device.address, device.type)
        if device.numa_node is not None and device.numa_node not in cells:
            errors.append(FieldError(f"{where}.numa_node", (
                f"{device.numa_node} is not a cell of the host (cells {sorted(cells)})")))
    for index, device in enumerate(host.pci_devices):
        errors += _parent_errors(device, types, f"{path}.pci_devices[{index}]")
    return errors + _group_errors(host, path)


def _parent_errors(device, types, where):
    if device.type != 'type-VF':
        if device.parent is not None:
            return [FieldError(f"{where}.parent", f"a {device.type} device has no parent "
                                                  '(only a type-VF does)')]
        return []
    if device.parent is None:
        return [FieldError(f"{where}.parent", 'a type-VF device names its PF')]
    if not isinstance(device.parent, str) or not PCI_ADDRESS.match(device.parent):
        return [FieldError(f"{where}.parent", f"{device.parent!r} {PCI_ADDRESS_RULE}")]
    if types.get(device.parent, 'type-PF') != 'type-PF':
        return [FieldError(f"{where}.parent", f"{device.parent} is a {types[device.parent]} "
                                              'device, not a PF')]
    return []


def _group_errors(host, path):
    listed = {}       # group -> (index, members) of the first device listing members
    errors = []
    for index, device in enumerate(host.pci_devices):
        where = f"{path}.pci_devices[{index}].iommu_group_members"
        members = frozenset(device.iommu_group_members)
        if not members:
            continue
        bad = sorted(m for m in members if not PCI_ADDRESS.match(m))
        if bad:
            errors.append(FieldError(where, f"{bad[0]!r} {PCI_ADDRESS_RULE}"))
        if device.iommu_group is None:
            errors.append(FieldError(where, 'members need the device\'s iommu_group'))
            continue
        if device.address not in members:
            errors.append(FieldError(where, f"does not list the device itself "
                                            f"({device.address})"))
            continue
        first = listed.setdefault(device.iommu_group, (index, members))
        if first[1] != members:
            errors.append(FieldError(where, (
                f"differs from {path}.pci_devices[{first[0]}].iommu_group_members: devices "
                f"of IOMMU group {device.iommu_group} list the same members")))
    return errors + _unlisted_member_errors(host, listed, path)


def _unlisted_member_errors(host, listed, path):
    errors = []
    for index, device in enumerate(host.pci_devices):
        entry = listed.get(device.iommu_group)
        if entry is not None and not device.iommu_group_members \
                and device.address not in entry[1]:
            errors.append(FieldError(f"{path}.pci_devices[{index}].iommu_group", (
                f"group {device.iommu_group} lists members {sorted(entry[1])} without "
                f"{device.address}")))
    return errors


def _instance_errors(host, path):
    ledger = Ledger(host)
    errors = []
    for index, instance in enumerate(host.instances):
        problems = ledger.add(instance.assignment)
        errors += [FieldError(f"{path}.instances[{index}].assignment", problem)
                   for problem in problems]
    return errors


class Ledger:
    """What the instances added so far hold on one host, to refuse overlaps.

    ``add`` returns every way an assignment does not fit the topology or
    overlaps what is held (no pCPU, device, PF with its VF, IOMMU group or hugepage held
    twice); it records the assignment only when there is none.
    """

    def __init__(self, host):
        self.host = host
        self.members = iommu.members_by_address(host.pci_devices)
        self.devices = frozenset(self.members)
        self.cells = {cell.id: cell for cell in host.cells}
        self.family = _pf_vf_family(host.pci_devices)
        self.dedicated = frozenset().union(*(cell.cpus for cell in host.cells))
        self.shared = frozenset().union(*(cell.shared_cpus for cell in host.cells))
        self.pcpus = {}       # pCPU -> instance
        self.pci = {}         # address -> instance
        self.pages = {}       # (cell id, size_kb) -> pages held

    def add(self, assignment):
        """Problems of ``assignment`` (sentences); none: it is now held."""
        if assignment.host != self.host.name:
            return [f"names host {assignment.host!r}, this is {self.host.name!r}"]
        missing = sorted({c.host_cell for c in assignment.cells} - set(self.cells))
        if missing:
            return [f"host cells {missing} do not exist (cells {sorted(self.cells)})"]
        pages = _pages_needed(assignment)
        pinned = assignment.pinned_pcpus
        problems = self._cpu_problems(assignment, pinned) + self._overlaps(pinned)
        problems += self._page_problems(pages) + self._pci_problems(assignment)
        if not problems:
            self._hold(assignment, pinned, pages)
        return problems

    def _overlaps(self, pinned):
        taken = sorted(cpu for cpu in pinned if cpu in self.pcpus)
        if not taken:
            return []
        return [f"pCPUs {format_cpuset(taken)} are already held by instance "
                f"{self.pcpus[taken[0]]}"]

    def _page_problems(self, pages):
        problems = []
        for (cell_id, size_kb), count in sorted(pages.items()):
            pool = self.cells[cell_id].pages.get(size_kb)
            held = self.pages.get((cell_id, size_kb), 0)
            if pool is None:
                problems.append(f"host cell {cell_id} has no {size_kb} KiB page pool")
            elif held + count > pool:
                problems.append(f"host cell {cell_id}: {count} pages of {size_kb} KiB with "
                                f"{held} already held, the pool has {pool}")
        return problems

    def _pci_problems(self, assignment):
        problems = []
        mine = {}
        for pci in assignment.pci_devices:
            if pci.address not in self.members:
                problems.append(f"PCI device {pci.address} is not on the host")
                continue
            related = [pci.address, *self.family[pci.address]]
            holder = next((self.pci.get(a, mine.get(a)) for a in related
                           if a in self.pci or a in mine), None)
            mine[pci.address] = assignment.instance
            if holder is not None:
                problems.append(f"PCI device {pci.address} (or its PF or VFs) is already held "
                                f"by instance {holder}")
                continue
            found = iommu.blockers(pci.address, self.members[pci.address], self.devices,
                                   self.pci)
            if found:
                problems.append(iommu.describe(pci.address, pci.iommu_group, found))
        return problems

    def _hold(self, assignment, pinned, pages):
        self.pcpus.update((cpu, assignment.instance) for cpu in pinned)
        self.pci.update((pci.address, assignment.instance) for pci in assignment.pci_devices)
        for key, count in pages.items():
            self.pages[key] = self.pages.get(key, 0) + count

    def _cpu_problems(self, assignment, pinned):
        problems = []
        placed_pcpus = set()
        for placed in assignment.cells:
            held = set(placed.pinning.values()) | set(placed.reserved_pcpus)
            placed_pcpus |= held
            outside = held - self.cells[placed.host_cell].cpus
            if outside:
                problems.append(f"pCPUs {format_cpuset(outside)} are not dedicated pCPUs of "
                                f"host cell {placed.host_cell}")
        emulator = pinned - placed_pcpus - self.dedicated
        if emulator:
            problems.append(f"emulator pCPUs {format_cpuset(emulator)} are not dedicated pCPUs")
        floating = set(assignment.shared_cpus).union(*(c.shared_cpus for c in assignment.cells))
        if floating - self.shared:
            problems.append(f"pCPUs {format_cpuset(floating - self.shared)} are not shared "
                            'pCPUs of the host')
        return problems


def _pf_vf_family(devices):
    """{address: its PF (for a VF) or its VFs (for a PF)}: never held by two instances."""
    family = {device.address: [] for device in devices}
    for device in devices:
        if device.type == 'type-VF' and device.parent in family:
            family[device.address].append(device.parent)
            family[device.parent].append(device.address)
    return family


def _pages_needed(assignment):
    pages = {}
    for placed in assignment.cells:
        if placed.page_size_kb != SMALL_PAGE_KB:
            key = (placed.host_cell, placed.page_size_kb)
            count = -(-placed.memory_mb * 1024 // placed.page_size_kb)   # a partial page counts
            pages[key] = pages.get(key, 0) + count
    return pages
