"""The agent's one libvirt seam.

This is the only module of the agent that imports ``libvirt``.  Every method
returns plain Python values or XML strings, and every libvirt failure is
re-raised as ``agent.exceptions.LibvirtError`` naming the operation, so the
rest of the agent (and its tests, through a fake with the same methods) is
plain Python over XML.
"""

import contextlib

import libvirt

from agent.exceptions import LibvirtError

# libvirt's default handler prints every error to stderr; we report them ourselves.
libvirt.registerErrorHandler(lambda _ctx, _err: None, None)

DOMAIN_STATES = {
    libvirt.VIR_DOMAIN_NOSTATE: 'nostate',
    libvirt.VIR_DOMAIN_RUNNING: 'running',
    libvirt.VIR_DOMAIN_BLOCKED: 'blocked',
    libvirt.VIR_DOMAIN_PAUSED: 'paused',
    libvirt.VIR_DOMAIN_SHUTDOWN: 'shutdown',
    libvirt.VIR_DOMAIN_SHUTOFF: 'shutoff',
    libvirt.VIR_DOMAIN_CRASHED: 'crashed',
    libvirt.VIR_DOMAIN_PMSUSPENDED: 'pmsuspended',
}


@contextlib.contextmanager
def _wrapped(operation):
    """Turn a libvirtError raised inside the block into LibvirtError(operation)."""
    try:
        yield
    except libvirt.libvirtError as exc:
        raise LibvirtError(operation, exc.get_error_message() or str(exc),
                           exc.get_error_code()) from exc


class LibvirtConnection:
    """A lazily opened read-write connection to one libvirt URI."""

    def __init__(self, uri):
        self.uri = uri
        self._conn = None

    @property
    def conn(self):
        """The underlying virConnect, opened on first use."""
        if self._conn is None:
            with _wrapped(f"open {self.uri}"):
                self._conn = libvirt.open(self.uri)
        return self._conn

    def close(self):
        """Close the connection if it was opened."""
        if self._conn is not None:
            with contextlib.suppress(libvirt.libvirtError):
                self._conn.close()
            self._conn = None

    # Host

    def capabilities(self):
        """Host capabilities XML (virConnectGetCapabilities)."""
        with _wrapped('getCapabilities'):
            return self.conn.getCapabilities()

    def domain_capabilities(self, virt_type, arch, machine=None, emulator=None):
        """Domain capabilities XML for one virt type/arch/machine."""
        with _wrapped(f"getDomainCapabilities({virt_type}, {arch}, {machine})"):
            return self.conn.getDomainCapabilities(emulator, arch, machine, virt_type, 0)

    def pci_device_xmls(self):
        """The XML of every node device with the 'pci' capability."""
        with _wrapped('listAllDevices(pci)'):
            devices = self.conn.listAllDevices(libvirt.VIR_CONNECT_LIST_NODE_DEVICES_CAP_PCI_DEV)
            return [device.XMLDesc(0) for device in devices]

    def free_pages(self, cells, sizes_kb):
        """Free pages now: ``{cell: {size_kb: free}}`` for the given cells and sizes.

        Cells are asked one at a time because their ids may be sparse.
        """
        sizes = sorted(sizes_kb)
        result = {}
        if not sizes:
            return {cell: {} for cell in cells}
        for cell in cells:
            with _wrapped(f"getFreePages(cell {cell})"):
                answer = self.conn.getFreePages(sizes, cell, 1, 0)
            result[cell] = {int(size): int(count)
                            for size, count in answer.get(cell, {}).items()}
        return result

    def hostname(self):
        """The host name libvirt reports."""
        with _wrapped('getHostname'):
            return self.conn.getHostname()

    def node_memory_kb(self):
        """The host's total memory in KiB (virNodeGetInfo)."""
        with _wrapped('getInfo'):
            return int(self.conn.getInfo()[1]) * 1024

    def expanded_cpu_xml(self, cpu_xml):
        """The host ``<cpu>`` with every feature its model implies listed (baselineCPU)."""
        with _wrapped('baselineCPU(expand features)'):
            return self.conn.baselineCPU([cpu_xml],
                                         libvirt.VIR_CONNECT_BASELINE_CPU_EXPAND_FEATURES)

    # Domains

    def list_domains(self):
        """Every domain, running or defined: ``[(name, uuid, xml, state)]``.

        ``state`` is a DOMAIN_STATES name such as 'running' or 'shutoff'.
        """
        result = []
        with _wrapped('listAllDomains'):
            domains = self.conn.listAllDomains(0)
        for domain in domains:
            try:
                state = DOMAIN_STATES.get(domain.state()[0], 'nostate')
                result.append((domain.name(), domain.UUIDString(),
                               domain.XMLDesc(0), state))
            except libvirt.libvirtError as exc:
                if exc.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
                    raise LibvirtError('describe domain', exc.get_error_message(),
                                       exc.get_error_code()) from exc
                # undefined between listing and reading: it is simply gone
        return result

    def domain_xml(self, name):
        """The live (or persistent, when stopped) XML of domain ``name``."""
        with _wrapped(f"XMLDesc({name})"):
            return self.conn.lookupByName(name).XMLDesc(0)

    # Domain lifecycle (used by agent.driver)

    def _domain(self, name):
        with _wrapped(f"lookupByName({name})"):
            return self.conn.lookupByName(name)

    def define_domain(self, xml):
        """Define a persistent domain from XML; returns its UUID string."""
        with _wrapped('defineXML'):
            return self.conn.defineXML(xml).UUIDString()

    def start_domain(self, name):
        """Start (virDomainCreate) a defined domain."""
        domain = self._domain(name)
        with _wrapped(f"start {name}"):
            domain.create()

    def domain_state(self, name):
        """The domain's DOMAIN_STATES name, or None when no such domain exists."""
        try:
            domain = self.conn.lookupByName(name)
            return DOMAIN_STATES.get(domain.state()[0], 'nostate')
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                return None
            raise LibvirtError(f"state of {name}", exc.get_error_message() or str(exc),
                               exc.get_error_code()) from exc

    def shutdown_domain(self, name):
        """Ask the guest to shut down (ACPI); returns at once."""
        domain = self._domain(name)
        with _wrapped(f"shutdown {name}"):
            domain.shutdown()

    def destroy_domain(self, name):
        """Power the domain off now; a domain that is not running is left as it is."""
        domain = self._domain(name)
        with _wrapped(f"destroy {name}"):
            if domain.isActive():
                domain.destroy()

    def reboot_domain(self, name):
        """Reboot the guest (ACPI, falling back to what the hypervisor offers)."""
        domain = self._domain(name)
        with _wrapped(f"reboot {name}"):
            domain.reboot(0)

    def undefine_domain(self, name):
        """Remove the persistent definition, UEFI variables and managed save included."""
        domain = self._domain(name)
        flags = (libvirt.VIR_DOMAIN_UNDEFINE_NVRAM | libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE)
        try:
            domain.undefineFlags(flags)
        except libvirt.libvirtError:
            with _wrapped(f"undefine {name}"):   # drivers without NVRAM support reject flags
                domain.undefine()

    def vcpu_pin_info(self, name):
        """``{vcpu: frozenset(pcpus)}`` the running domain's vCPUs may run on."""
        domain = self._domain(name)
        with _wrapped(f"vcpuPinInfo({name})"):
            rows = domain.vcpuPinInfo(0)
        return {vcpu: frozenset(cpu for cpu, allowed in enumerate(row) if allowed)
                for vcpu, row in enumerate(rows)}
