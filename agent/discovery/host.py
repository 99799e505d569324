"""Discover this host through the libvirt seam: the one entry point with I/O.

``discover(conn, settings)`` reads capabilities, domain capabilities and PCI
node devices from ``conn`` (a LibvirtConnection or a fake with the same
methods), picks the virt type and returns a Discovery: the HostTopology to
report plus what the agent itself needs (virt type, free pages now).
"""

import dataclasses
import logging
import os
import urllib.parse

from agent.discovery import shaping, topology
from agent.discovery.capabilities import cpu_features_of, parse_capabilities
from agent.discovery.domcaps import parse_domain_capabilities
from agent.discovery.nodedev import parse_pci_device
from agent.exceptions import HostXmlError, InvalidConfig, LibvirtError

LOG = logging.getLogger(__name__)

KVM_DEVICE = '/dev/kvm'
# SEV and secure-boot firmware need q35 on x86; probe the features on it.
FEATURE_MACHINE_BY_ARCH = {'x86_64': 'q35'}


@dataclasses.dataclass(frozen=True, slots=True)
class Discovery:
    """What discovery found: the wire topology and agent-side details."""

    topology: object                 # wire.topology.HostTopology
    virt_type: str                   # 'kvm' or 'qemu', the effective one
    capabilities: object             # capabilities.HostCapabilities
    domain_capabilities: object      # domcaps.DomainCapabilities or None
    pci_devices: tuple               # every nodedev.NodePciDevice, whitelisted or not
    free_pages: dict                 # {cell: {size_kb: free now}}, for verification only
    unreadable_devices: tuple = ()   # errors of PCI devices skipped (not reported)


def discover(conn, settings, host_name=None, vif_shaping=None):
    """Discover the host behind ``conn`` with checked ``settings`` (HostSettings).

    ``vif_shaping``: whether it can shape NIC bandwidth (shaping.Shaping); None
    probes now (a kernel's abilities do not change while it runs: callers that
    rediscover probe once).
    """
    if vif_shaping is None:
        vif_shaping = shaping.probe_for(conn)
    capabilities = with_model_features(conn, parse_capabilities(conn.capabilities()))
    virt_type, domcaps = probe_virt_type(conn, capabilities.arch, settings.virt_type)
    devices, unreadable = _pci_devices(conn.pci_device_xmls())
    needs_node_total = any(c.memory_kb is None and not c.pages for c in capabilities.cells)
    host = topology.build_topology(
        host_name or conn.hostname(), capabilities, devices, domcaps, settings,
        node_memory_kb=conn.node_memory_kb() if needs_node_total else None,
        vif_shaping=vif_shaping.able)
    sizes = sorted({size for cell in host.cells for size in cell.pages})
    free = conn.free_pages([cell.id for cell in host.cells], sizes)
    return Discovery(topology=host, virt_type=virt_type, capabilities=capabilities,
                     domain_capabilities=domcaps, pci_devices=devices, free_pages=free,
                     unreadable_devices=unreadable)


def with_model_features(conn, capabilities):
    """Add the CPU flags the host's CPU model implies (libvirt lists only the extra ones).

    Where libvirt cannot expand (no CPU map for the arch), the listed flags stay.
    """
    if not capabilities.cpu_xml:
        return capabilities
    try:
        expanded = cpu_features_of(conn.expanded_cpu_xml(capabilities.cpu_xml))
    except (LibvirtError, HostXmlError) as exc:
        LOG.info('CPU flags implied by the model are not known: %s', exc)
        return capabilities
    return dataclasses.replace(capabilities,
                               cpu_features=capabilities.cpu_features | expanded)


def _pci_devices(xmls):
    """(devices, unreadable): one odd device must not hide the host from the fleet."""
    devices, unreadable = [], []
    for xml in xmls:
        try:
            devices.append(parse_pci_device(xml))
        except HostXmlError as exc:
            LOG.warning('skipping a PCI device libvirt describes oddly: %s', exc)
            unreadable.append(str(exc))
    return tuple(devices), tuple(unreadable)


def kvm_device_usable(uri, device=KVM_DEVICE):
    """For a local URI, whether this process may open /dev/kvm; remote URIs: True.

    libvirt may list kvm while /dev/kvm is unusable for us (no udev rule set
    its group); 'auto' then picks qemu rather than failing every launch.
    """
    if urllib.parse.urlsplit(uri or '').netloc:
        return True
    return os.access(device, os.R_OK | os.W_OK)


def probe_virt_type(conn, arch, wanted, kvm_usable=kvm_device_usable):
    """(virt type, DomainCapabilities) for 'kvm', 'qemu' or 'auto'.

    'auto' is kvm when libvirt offers kvm domain capabilities and
    ``kvm_usable(conn.uri)`` agrees, else qemu.
    """
    if wanted == 'auto':
        if kvm_usable(getattr(conn, 'uri', '')):
            try:
                return 'kvm', _domain_capabilities(conn, 'kvm', arch)
            except LibvirtError:
                pass
        return 'qemu', _domain_capabilities(conn, 'qemu', arch)
    try:
        return wanted, _domain_capabilities(conn, wanted, arch)
    except LibvirtError as exc:
        raise InvalidConfig('[libvirt] virt_type', f"{wanted} guests are not available "
                                                   f"on this host: {exc.detail}")


def _domain_capabilities(conn, virt_type, arch):
    machine = FEATURE_MACHINE_BY_ARCH.get(arch)
    try:
        xml = conn.domain_capabilities(virt_type, arch, machine)
    except LibvirtError:
        if machine is None:
            raise
        xml = conn.domain_capabilities(virt_type, arch)   # emulator without that machine
    return parse_domain_capabilities(xml)
