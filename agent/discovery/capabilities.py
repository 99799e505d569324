"""Host capabilities XML (virConnectGetCapabilities) -> NUMA cells, CPUs, pages.

What libvirt writes varies with its age and the machine:

- siblings come as lists (``'0,12'``) or ranges (``'0-1'``, ``'0-7'``);
- cell ids may be sparse (POWER: 0, 1, 16, 17);
- ``<pages>`` may lack ``unit`` (then KiB) and may come after ``<cpus>``;
- old libvirt (before 1.2.x) writes neither ``<memory>`` nor ``<pages>``;
  ``memory_kb`` is then None and the topology builder falls back (see there);
- offline CPUs are listed with only their ``id``: they are kept, marked offline.
"""

import dataclasses

from agent.discovery import xmlutil
from agent.exceptions import HostXmlError
from wire.cpuset import CpuSetError, parse_cpuset
from wire.limits import MAX_SOCKET_ID

SOURCE = 'capabilities'
_UNIT_KB = {'b': 1 / 1024, 'bytes': 1 / 1024, 'k': 1, 'kb': 1, 'kib': 1, 'm': 1024,
            'mb': 1024, 'mib': 1024, 'g': 1024 ** 2, 'gb': 1024 ** 2, 'gib': 1024 ** 2}


@dataclasses.dataclass(frozen=True, slots=True)
class HostCpu:
    """One logical CPU as libvirt lists it in a cell."""

    id: int
    socket_id: int | None = None
    die_id: int | None = None
    core_id: int | None = None
    siblings: frozenset = frozenset()
    online: bool = True


@dataclasses.dataclass(frozen=True, slots=True)
class CapsCell:
    """One NUMA cell: its CPUs, memory (KiB, None if unreported) and page pools."""

    id: int
    cpus: tuple
    memory_kb: int | None = None
    pages: dict = dataclasses.field(default_factory=dict)   # size_kb -> total pages

    @property
    def online_cpu_ids(self):
        return frozenset(cpu.id for cpu in self.cpus if cpu.online)

    @property
    def socket(self):
        """The one socket of the cell's online CPUs; None when libvirt names none, or
        several (like Nova, a NUMA node spanning sockets has no socket affinity)."""
        sockets = {cpu.socket_id for cpu in self.cpus if cpu.online}
        if len(sockets) != 1:
            return None
        [socket] = sockets
        return socket if socket is not None and 0 <= socket <= MAX_SOCKET_ID else None

    @property
    def sibling_groups(self):
        """Distinct thread-sibling sets of 2+ online CPUs, within this cell."""
        online = self.online_cpu_ids
        groups = {frozenset(cpu.siblings & online) for cpu in self.cpus if cpu.online}
        return tuple(sorted((g for g in groups if len(g) > 1), key=min))


@dataclasses.dataclass(frozen=True, slots=True)
class HostCapabilities:
    """What the host capabilities say about the host (not the guests)."""

    arch: str
    cells: tuple
    cpu_model: str | None = None
    cpu_vendor: str | None = None
    cpu_features: frozenset = frozenset()
    cpu_xml: str | None = None       # the host <cpu> element, for baselineCPU

    def cell(self, cell_id):
        for cell in self.cells:
            if cell.id == cell_id:
                return cell
        raise KeyError(cell_id)


def parse_capabilities(xml_text):
    """Parse capabilities XML; HostXmlError names what is missing or malformed."""
    root = xmlutil.parse(xml_text, SOURCE)
    host = root.find('host')
    if host is None:
        raise HostXmlError(SOURCE, 'no <host> element')
    arch = xmlutil.text(host, 'cpu/arch')
    if not arch:
        raise HostXmlError(SOURCE, 'no <host><cpu><arch>')
    cell_elements = host.findall('topology/cells/cell')
    if not cell_elements:
        raise HostXmlError(SOURCE, 'no NUMA cells in <host><topology><cells>')
    cells = _without_offline_marks_if_no_topology(
        tuple(_parse_cell(element) for element in cell_elements))
    ids = [cell.id for cell in cells]
    if len(set(ids)) != len(ids):
        raise HostXmlError(SOURCE, f"cell ids {ids} are not unique")
    cpu_ids = [cpu.id for cell in cells for cpu in cell.cpus]
    if len(set(cpu_ids)) != len(cpu_ids):
        twice = sorted({cpu for cpu in cpu_ids if cpu_ids.count(cpu) > 1})
        raise HostXmlError(SOURCE, f"CPUs {twice} are listed in more than one cell")
    features = frozenset(f.get('name') for f in host.findall('cpu/feature') if f.get('name'))
    return HostCapabilities(arch=arch, cells=cells, cpu_model=xmlutil.text(host, 'cpu/model'),
                            cpu_vendor=xmlutil.text(host, 'cpu/vendor'), cpu_features=features,
                            cpu_xml=xmlutil.serialize(host.find('cpu')))


def cpu_features_of(cpu_xml):
    """Feature names a ``<cpu>`` document requires (or lists without a policy)."""
    cpu = xmlutil.parse(cpu_xml, 'expanded host cpu')
    return frozenset(f.get('name') for f in cpu.findall('feature')
                     if f.get('name') and f.get('policy', 'require') == 'require')


def _without_offline_marks_if_no_topology(cells):
    """Very old libvirt lists every CPU with its id only: then all are online."""
    if any(cpu.online for cell in cells for cpu in cell.cpus):
        return cells
    return tuple(dataclasses.replace(
        cell, cpus=tuple(dataclasses.replace(cpu, online=True) for cpu in cell.cpus))
        for cell in cells)


def _parse_cell(element):
    cell_id = xmlutil.integer(element.get('id'), SOURCE, 'cell id')
    where = f"cell {cell_id}"
    memory = element.find('memory')
    memory_kb = None
    if memory is not None:
        memory_kb = size_in_kb(memory.text, memory.get('unit'), f"{where} memory")
    pages = {}
    for page in element.findall('pages'):
        size_kb = size_in_kb(page.get('size'), page.get('unit'), f"{where} page size")
        pages[size_kb] = xmlutil.integer(page.text or '0', SOURCE, f"{where} pages {size_kb}K")
    cpus = tuple(_parse_cpu(cpu, where) for cpu in element.findall('cpus/cpu'))
    return CapsCell(id=cell_id, cpus=cpus, memory_kb=memory_kb, pages=pages)


def _parse_cpu(element, where):
    cpu_id = xmlutil.integer(element.get('id'), SOURCE, f"{where} cpu id")
    here = f"{where} cpu {cpu_id}"
    siblings_text = element.get('siblings')
    try:
        siblings = parse_cpuset(siblings_text) if siblings_text else frozenset((cpu_id,))
    except CpuSetError as exc:
        raise HostXmlError(SOURCE, f"{here} siblings: {exc}")
    socket_id = xmlutil.optional_integer(element.get('socket_id'), SOURCE, f"{here} socket_id")
    return HostCpu(
        id=cpu_id, socket_id=socket_id,
        die_id=xmlutil.optional_integer(element.get('die_id'), SOURCE, f"{here} die_id"),
        core_id=xmlutil.optional_integer(element.get('core_id'), SOURCE, f"{here} core_id"),
        siblings=siblings | {cpu_id},
        # libvirt lists an offline CPU with its id only; it cannot run guests.
        online=socket_id is not None or element.get('core_id') is not None,
    )


def size_in_kb(value, unit, what):
    """A libvirt size with an optional unit (default KiB) as whole KiB."""
    number = xmlutil.integer(value, SOURCE, what)
    factor = _UNIT_KB.get((unit or 'KiB').lower())
    if factor is None:
        raise HostXmlError(SOURCE, f"{what}: unknown unit {unit!r}")
    return int(number * factor)
