"""A libvirt connection served from XML files, with LibvirtConnection's interface.

Lets the agent's discovery (and anything else behind the seam) run against
real captures of other machines (../shared/fixtures) and hand-written hosts.
"""

import pathlib

from agent.discovery.capabilities import parse_capabilities
from agent.exceptions import LibvirtError

REPO_ROOT = pathlib.Path(__file__).resolve().parents[3]
SHARED_FIXTURES = REPO_ROOT.parent / 'shared' / 'fixtures'
DATA = pathlib.Path(__file__).resolve().parent / 'data'


def read(path):
    return pathlib.Path(path).read_text(encoding='utf-8')


class FixtureConnection:
    """Capabilities, domain capabilities and node devices from strings or files.

    ``domcaps`` maps a virt type to its XML (or is one XML for 'kvm' and
    'qemu' both); asking for a virt type it lacks fails like libvirt does.
    ``free`` is {cell: {size_kb: free}}; by default every pool is fully free.
    ``expanded_cpu`` is what baselineCPU would answer (see test_libvirt_conn).
    """

    def __init__(self, capabilities, domcaps=None, nodedevs=(), free=None,
                 hostname='fixture-host', node_memory_kb=None, uri='fixture:///',
                 expanded_cpu=None):
        self.uri = uri
        self._capabilities = capabilities
        if isinstance(domcaps, str):
            domcaps = {'kvm': domcaps, 'qemu': domcaps}
        self._domcaps = dict(domcaps or {})
        self._nodedevs = list(nodedevs)
        self._free = free
        self._hostname = hostname
        self._node_memory_kb = node_memory_kb
        self._expanded_cpu = expanded_cpu
        self.calls = []
        self.domains = {}      # name -> (uuid, xml, state)
        self.closed = False

    @classmethod
    def from_files(cls, capabilities, domcaps=None, nodedevs=(), **kwargs):
        """Like the constructor, with paths instead of XML text."""
        if isinstance(domcaps, dict):
            domcaps = {virt: read(path) for virt, path in domcaps.items()}
        elif domcaps is not None:
            domcaps = read(domcaps)
        return cls(read(capabilities), domcaps, [read(p) for p in nodedevs], **kwargs)

    def close(self):
        self.closed = True

    def capabilities(self):
        self.calls.append(('capabilities',))
        return self._capabilities

    def domain_capabilities(self, virt_type, arch, machine=None, emulator=None):
        self.calls.append(('domain_capabilities', virt_type, arch, machine))
        if virt_type not in self._domcaps:
            raise LibvirtError(f"getDomainCapabilities({virt_type}, {arch}, {machine})",
                               f"virt type '{virt_type}' is not supported", code=8)
        return self._domcaps[virt_type]

    def pci_device_xmls(self):
        self.calls.append(('pci_device_xmls',))
        return list(self._nodedevs)

    def free_pages(self, cells, sizes_kb):
        self.calls.append(('free_pages', tuple(cells), tuple(sizes_kb)))
        if self._free is not None:
            return {cell: {s: self._free.get(cell, {}).get(s, 0) for s in sizes_kb}
                    for cell in cells}
        caps = parse_capabilities(self._capabilities)
        return {cell: {s: caps.cell(cell).pages.get(s, 0) for s in sizes_kb} for cell in cells}

    def hostname(self):
        return self._hostname

    def node_memory_kb(self):
        if self._node_memory_kb is None:
            raise LibvirtError('getInfo', 'no node info in this fixture')
        return self._node_memory_kb

    def expanded_cpu_xml(self, cpu_xml):
        """The ``expanded_cpu`` given; without one, fail as libvirt does with no CPU map."""
        self.calls.append(('expanded_cpu_xml',))
        if self._expanded_cpu is None:
            raise LibvirtError('baselineCPU(expand features)', 'no CPU map in this fixture')
        return self._expanded_cpu

    def list_domains(self):
        return [(name, uuid, xml, state) for name, (uuid, xml, state)
                in sorted(self.domains.items())]

    def domain_xml(self, name):
        if name not in self.domains:
            raise LibvirtError(f"XMLDesc({name})", f"Domain not found: '{name}'", code=42)
        return self.domains[name][1]
