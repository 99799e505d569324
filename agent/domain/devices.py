"""<devices>: disk or nothing (direct kernel boot), NICs, PCI passthrough, console, balloon.

Normal ports on a physical network the agent maps to a bridge are plugged into
it (``type='bridge'``; Open vSwitch bridges with ``<virtualport>`` and the
port's VLAN); a normal port on no network is a bare tap (``type='ethernet'``).
No libvirt network is involved.  Direct (SR-IOV) ports get the VF the
scheduler assigned to them by PCI address; alias requests get their devices as
plain PCI hostdevs.
"""

import dataclasses
import hashlib
import re
import xml.etree.ElementTree as ET

from agent.domain.settings import DomainBuildError

VNIC_NORMAL, VNIC_DIRECT = 'normal', 'direct'
PORT_REQUEST_PREFIX = 'port:'
ALIAS_REQUEST_PREFIX = 'alias:'
PCI_ADDRESS = re.compile(r'^(?:([0-9a-fA-F]{1,4}):)?([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2})'
                         r'\.([0-7])$')


class DeviceError(DomainBuildError):
    """The assignment or ports cannot be turned into devices (named in the message)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Port:
    """One bound port, by its index in the request's ports."""

    index: int
    vnic_type: str = VNIC_NORMAL
    mac_address: str | None = None
    vlan: int | None = None
    target_dev: str | None = None     # tap name; derived from the instance uuid if None
    physical_network: str | None = None


def resolve_ports(spec, ports, uuid):
    """Ports from the caller (Port or dicts) or, if None, from the request's PortRequests."""
    if ports is None:
        ports = [{'vnic_type': p.vnic_type, 'mac_address': p.mac_address, 'vlan': p.vlan,
                  'physical_network': p.physical_network} for p in spec.ports]
    resolved = []
    for index, port in enumerate(ports):
        if isinstance(port, dict):
            port = Port(index=index, **{k: v for k, v in port.items() if k != 'index'})
        resolved.append(dataclasses.replace(
            port, mac_address=port.mac_address or stable_mac(uuid, index),
            target_dev=port.target_dev or tap_name(uuid, index)))
    return resolved


def stable_mac(uuid, index):
    """A locally administered MAC derived from the instance and port index."""
    digest = hashlib.sha256(f"{uuid}/{index}".encode()).digest()
    return '52:54:00:' + ':'.join(f"{b:02x}" for b in digest[:3])


def tap_name(uuid, index):
    """Tap device name, under Linux's 15-character limit and outside libvirt's vnet* names."""
    return f"kf{uuid.replace('-', '')[:9]}t{index}"[:15]


def pci_address_element(address, typed=True):
    """<address [type='pci'] domain bus slot function> from '0000:82:00.3'.

    An interface's source address carries type='pci'; a hostdev's source
    address has no type attribute (libvirt's schema).
    """
    match = PCI_ADDRESS.match(address)
    if not match:
        raise DeviceError(f"PCI address {address!r} is not DDDD:BB:SS.F")
    domain, bus, slot, function = match.groups()
    attributes = {'type': 'pci'} if typed else {}
    attributes.update({'domain': f"0x{int(domain or '0', 16):04x}",
                       'bus': f"0x{int(bus, 16):02x}", 'slot': f"0x{int(slot, 16):02x}",
                       'function': f"0x{int(function, 16):x}"})
    return ET.Element('address', attributes)


def disk_element(disk_path, iommu=False, target=('vda', 'virtio'), packed=False, iotune=None):
    """The instance's qcow2 overlay as a disk on the ``target`` (dev, bus), with ``iotune``."""
    disk = ET.Element('disk', {'type': 'file', 'device': 'disk'})
    driver = ET.SubElement(disk, 'driver', {'name': 'qemu', 'type': 'qcow2', 'cache': 'none'})
    virtio = target[1] == 'virtio'
    if iommu and virtio:
        driver.set('iommu', 'on')
    if packed and virtio:
        driver.set('packed', 'on')
    ET.SubElement(disk, 'source', {'file': disk_path})
    ET.SubElement(disk, 'target', {'dev': target[0], 'bus': target[1]})
    if iotune is not None:
        disk.append(iotune)
    return disk


def tap_interface(port, queues, vhost_net, iommu=False, model='virtio', packed=False,
                  bridge=None, bandwidth=()):
    """A NIC on a tap device, plugged into ``bridge`` (agent.network.Bridge) if given,
    shaped by ``bandwidth`` (wire.guest_quota's); a virtio one takes multiqueue
    (``queues`` > 1) and packed rings."""
    interface = ET.Element('interface', {'type': 'bridge' if bridge else 'ethernet'})
    ET.SubElement(interface, 'mac', {'address': port.mac_address})
    if bridge:
        ET.SubElement(interface, 'source', {'bridge': bridge.name})
        if bridge.kind == 'ovs':
            ET.SubElement(interface, 'virtualport', {'type': 'openvswitch'})
        if port.vlan is not None:
            vlan = ET.SubElement(interface, 'vlan')
            ET.SubElement(vlan, 'tag', {'id': str(port.vlan)})
        ET.SubElement(interface, 'target', {'dev': port.target_dev})
    else:
        ET.SubElement(interface, 'target', {'dev': port.target_dev, 'managed': 'yes'})
    ET.SubElement(interface, 'model', {'type': model})
    if bandwidth:
        shaped = ET.SubElement(interface, 'bandwidth')
        for direction, attributes in bandwidth:
            ET.SubElement(shaped, direction, {name: str(value) for name, value in attributes})
    if model != 'virtio':
        return interface
    driver = ET.SubElement(interface, 'driver', {'name': 'vhost' if vhost_net else 'qemu'})
    if queues > 1:
        driver.set('queues', str(queues))
    if iommu:
        driver.set('iommu', 'on')
    if packed:
        driver.set('packed', 'on')
    return interface


def vf_interface(port, address):
    """An SR-IOV VF given to the guest, with the port's MAC and VLAN set on the VF."""
    interface = ET.Element('interface', {'type': 'hostdev', 'managed': 'yes'})
    ET.SubElement(interface, 'mac', {'address': port.mac_address})
    source = ET.SubElement(interface, 'source')
    source.append(pci_address_element(address))
    if port.vlan is not None:
        vlan = ET.SubElement(interface, 'vlan')
        ET.SubElement(vlan, 'tag', {'id': str(port.vlan)})
    return interface


def hostdev_element(address):
    """A PCI device (alias request) passed through whole."""
    hostdev = ET.Element('hostdev', {'mode': 'subsystem', 'type': 'pci', 'managed': 'yes'})
    source = ET.SubElement(hostdev, 'source')
    source.append(pci_address_element(address, typed=False))
    return hostdev


def interface_elements(spec, assignment, ports, settings, iommu=False, hardware=None,
                       bandwidth=()):
    """One <interface> per port, in port order (``hardware``: NIC model, packed rings;
    ``bandwidth``: the flavor's NIC limits, on every tap NIC as Nova does)."""
    queues = multiqueue_queues(spec, assignment, settings)
    model = hardware.vif_model if hardware else 'virtio'
    packed = bool(hardware and hardware.packed_ring)
    vf_by_port = {p.request[len(PORT_REQUEST_PREFIX):]: p.address
                  for p in assignment.pci_devices if p.request.startswith(PORT_REQUEST_PREFIX)}
    elements = []
    for port in ports:
        if port.vnic_type == VNIC_DIRECT:
            address = vf_by_port.get(str(port.index))
            if address is None:
                raise DeviceError(f"ports[{port.index}]: direct port has no VF in the assignment")
            elements.append(vf_interface(port, address))
        else:
            elements.append(tap_interface(port, queues, settings.vhost_net, iommu, model,
                                          packed, bridge_of(port, settings.networks),
                                          bandwidth))
    return elements


def bridge_of(port, networks):
    """The Bridge a normal port is plugged into, None for a bare tap; DeviceError when the
    host does not bridge its network or cannot tag its VLAN (the scheduler's traits say)."""
    physnet = port.physical_network or (networks.default_physical_network if networks else None)
    if physnet is None:
        if port.vlan is not None:
            raise DeviceError(f"ports[{port.index}]: a VLAN needs a physical_network")
        return None
    bridge = networks.bridges.get(physnet) if networks else None
    if bridge is None:
        raise DeviceError(f"ports[{port.index}]: physical network {physnet!r} is not bridged "
                          'on this host ([network] *_bridge_mappings)')
    if port.vlan is not None and bridge.kind != 'ovs':
        raise DeviceError(f"ports[{port.index}]: VLAN {port.vlan} on {physnet!r} needs an Open "
                          f"vSwitch bridge; {bridge.name} is a Linux bridge")
    return bridge


def multiqueue_queues(spec, assignment, settings):
    """Queues per virtio NIC: one per vCPU with multiqueue, capped by the tap limit.

    Multiqueue is on unless the request turns it off or, when the request does
    not say, the agent's default is off (``settings.multiqueue_default``).
    """
    enabled = settings.multiqueue_default if spec.multiqueue is None else spec.multiqueue
    if not enabled:
        return 1
    return max(1, min(assignment.vcpus, settings.max_tap_queues))


def alias_hostdevs(assignment):
    return [hostdev_element(p.address) for p in assignment.pci_devices
            if p.request.startswith(ALIAS_REQUEST_PREFIX)]


def console_elements(log_path):
    """Serial port 0 logged to a file, and the console on it."""
    serial = ET.Element('serial', {'type': 'file'})
    ET.SubElement(serial, 'source', {'path': log_path, 'append': 'on'})
    ET.SubElement(serial, 'target', {'port': '0'})
    console = ET.Element('console', {'type': 'file'})
    ET.SubElement(console, 'source', {'path': log_path, 'append': 'on'})
    ET.SubElement(console, 'target', {'type': 'serial', 'port': '0'})
    return [serial, console]


def balloon_element(enabled, iommu=False):
    """virtio balloon, or model='none' (libvirt would otherwise add one by default)."""
    balloon = ET.Element('memballoon', {'model': 'virtio' if enabled else 'none'})
    if enabled and iommu:
        ET.SubElement(balloon, 'driver', {'iommu': 'on'})
    return balloon
