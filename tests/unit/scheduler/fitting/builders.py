"""Fluent builders for hosts and requests in fitting tests.

    host().cells(2, cores=8, threads=2, shared_cores=2).pages({2048: 512}).build()
    request(8, 2048).numa(2).dedicated().thread('isolate').build()

CPU ids follow Linux's usual numbering: all first threads of every core of
every cell, then all second threads, so core ``i`` of cell ``c`` with
``C`` cores per cell on ``N`` cells has threads ``c*C + i + t*N*C``.
Within a cell the dedicated cores come first, then the shared ones.
"""

import dataclasses

from wire.request_spec import (
    CPU_DEDICATED,
    CPU_MIXED,
    GuestCell,
    PciRequest,
    PortRequest,
    RequestSpec,
)
from wire.topology import Cell, HostTopology, PciDevice


class HostBuilder:
    def __init__(self, name):
        self.name = name
        self._cells = []
        self._devices = []
        self._sev = self._sev_es = 0
        self._sev_snp = False

    def cells(self, count, cores=4, threads=1, shared_cores=0, memory_mb=16384):
        per_cell = cores + shared_cores
        self._cells = []
        for cell_id in range(count):
            dedicated, shared, siblings = set(), set(), []
            for core in range(per_cell):
                first = cell_id * per_cell + core
                group = frozenset(first + t * count * per_cell for t in range(threads))
                siblings.append(group)
                (dedicated if core < cores else shared).update(group)
            self._cells.append(Cell(id=cell_id, cpus=frozenset(dedicated),
                                    shared_cpus=frozenset(shared), siblings=tuple(siblings),
                                    memory_mb=memory_mb, pages={}))
        return self

    def _each(self, cell, change):
        self._cells = [change(c) if cell is None or c.id == cell else c for c in self._cells]
        return self

    def pages(self, pools, cell=None):
        """Hugepage pools {size_kb: count}, on every cell or one."""
        return self._each(cell, lambda c: dataclasses.replace(c, pages=dict(pools)))

    def reserved(self, memory_mb, cell=None):
        return self._each(cell, lambda c: dataclasses.replace(c, reserved_memory_mb=memory_mb))

    def sockets(self, *socket_ids):
        """The CPU socket of each cell, in cell order (None: unknown)."""
        self._cells = [dataclasses.replace(c, socket=socket)
                       for c, socket in zip(self._cells, socket_ids)]
        return self

    def memory(self, memory_mb, cell=None):
        return self._each(cell, lambda c: dataclasses.replace(c, memory_mb=memory_mb))

    def pf(self, address, numa_node=0, physnet='physnet1', vfs=0, vendor='8086',
           product='1572', vf_product='154c'):
        """A PF with ``vfs`` VFs (addresses ``<address>.v<n>``)."""
        self._devices.append(PciDevice(address, vendor, product, 'type-PF', None, numa_node,
                                       physnet))
        for index in range(vfs):
            self._devices.append(PciDevice(f"{address}.v{index}", vendor, vf_product, 'type-VF',
                                           address, numa_node, physnet))
        return self

    def device(self, address, vendor='10de', product='1db4', numa_node=0, kind='type-PCI'):
        self._devices.append(PciDevice(address, vendor, product, kind, None, numa_node))
        return self

    def sev(self, slots, es_slots=0, snp=False):
        self._sev, self._sev_es, self._sev_snp = slots, es_slots, snp
        return self

    def build(self):
        if not self._cells:
            self.cells(1)
        return HostTopology(name=self.name, cells=tuple(self._cells),
                            pci_devices=tuple(self._devices), sev_slots=self._sev,
                            sev_es_slots=self._sev_es, sev_snp_supported=self._sev_snp)


class RequestBuilder:
    def __init__(self, vcpus, memory_mb, name):
        self.values = {'name': name, 'vcpus': vcpus, 'memory_mb': memory_mb}

    def _set(self, **values):
        self.values.update(values)
        return self

    def numa(self, count):
        """Nova's even split of vCPUs and memory over ``count`` cells."""
        vcpus, memory = self.values['vcpus'], self.values['memory_mb']
        per_cpu, per_mb = vcpus // count, memory // count
        return self._set(numa_cells=tuple(
            GuestCell(i, tuple(range(i * per_cpu, (i + 1) * per_cpu)), per_mb)
            for i in range(count)))

    def numa_cells(self, *cells):
        """Explicit cells: (vcpu ids, memory_mb) each."""
        return self._set(numa_cells=tuple(GuestCell(i, tuple(v), m)
                                          for i, (v, m) in enumerate(cells)))

    def dedicated(self):
        return self._set(cpu_policy=CPU_DEDICATED,
                         dedicated_vcpus=frozenset(range(self.values['vcpus'])))

    def mixed(self, dedicated_vcpus):
        return self._set(cpu_policy=CPU_MIXED, dedicated_vcpus=frozenset(dedicated_vcpus))

    def thread(self, policy):
        return self._set(thread_policy=policy)

    def emulator(self, policy):
        return self._set(emulator_threads_policy=policy)

    def pages(self, size):
        return self._set(page_size=size)

    def alias(self, name, count=1, vendor='10de', product='1db4', kind=None, policy='legacy'):
        requests = self.values.get('pci_requests', ()) + (
            PciRequest(name, count, vendor, product, kind, policy),)
        return self._set(pci_requests=requests)

    def port(self, physnet='physnet1', vnic_type='direct'):
        return self._set(ports=self.values.get('ports', ()) + (
            PortRequest(vnic_type, physnet),))

    def pci_policy(self, policy):
        specs = dict(self.values.get('extra_specs', {}))
        specs['hw:pci_numa_affinity_policy'] = policy
        return self._set(pci_numa_affinity_policy=policy, extra_specs=specs)

    def sev(self, model=None):
        return self._set(mem_encryption=True, mem_encryption_model=model)

    def build(self):
        return RequestSpec(**self.values)


def host(name='host-0'):
    return HostBuilder(name)


def request(vcpus=2, memory_mb=2048, name='req'):
    return RequestBuilder(vcpus, memory_mb, name)
