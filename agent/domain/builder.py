"""Turn (RequestSpec, Assignment, image, ports, settings) into libvirt domain XML.

Everything is built with ElementTree, so names, metadata and paths are escaped
by the library.  The builder is pure: it reads no config and touches no file;
the driver creates the overlay and directories it names.

Image dict (from the image catalogue or tools/build-test-image.sh image.json):
  {"name": str,
   "kernel": path, "initrd": path (optional), "cmdline": str (optional)   # direct boot
   "disk": path of the base image, "disk_format": "qcow2" | "raw"}       # overlay boot
At least one of ``kernel`` and ``disk`` is present.
"""

import uuid as uuid_lib
import xml.etree.ElementTree as ET

from agent.domain import cputune, devices, guest_devices, memory, metadata, numa, security
from agent.domain.settings import DomainBuildError

DOMAIN_NAME_PREFIX = 'kvmfleet-'
# Fixed namespace so an instance name that is not a UUID maps to the same domain UUID.
INSTANCE_UUID_NAMESPACE = uuid_lib.UUID('6b2f3c1e-8d7a-4e0f-9b51-2c4d6e8f0a13')


def instance_uuid(instance):
    """The domain UUID of an instance: its own id if it is a UUID, else a stable uuid5."""
    try:
        return str(uuid_lib.UUID(str(instance)))
    except ValueError:
        return str(uuid_lib.uuid5(INSTANCE_UUID_NAMESPACE, str(instance)))


def domain_name(uuid):
    return f"{DOMAIN_NAME_PREFIX}{uuid}"


def build_domain(spec, assignment, image, settings, ports=None, flavor=None):
    """The <domain> element for one instance (see the module docstring for ``image``)."""
    _check_inputs(spec, assignment, image, settings)
    hardware, quota = guest_devices.hardware_of(spec)
    uuid = instance_uuid(assignment.instance)
    domain = ET.Element('domain', {'type': settings.virt_type})
    ET.SubElement(domain, 'name').text = domain_name(uuid)
    ET.SubElement(domain, 'uuid').text = uuid
    title = ' '.join(spec.name.split())     # libvirt's title is one non-empty line
    if title:
        ET.SubElement(domain, 'title').text = title
    meta = ET.SubElement(domain, 'metadata')
    meta.append(metadata.instance_element(uuid, spec, assignment, flavor))
    domain.extend(memory.memory_elements(assignment))
    _append(domain, memory.memory_backing_element(spec, assignment))
    domain.append(cputune.vcpu_element(spec, assignment))
    _append(domain, cputune.cputune_element(spec, assignment, quota.cputune))
    _append(domain, numa.numatune_element(assignment))
    domain.append(_os_element(spec, assignment, image, settings, hardware))
    features = security.features_element(spec, assignment, settings)
    guest_devices.apply_features(features, hardware)
    domain.append(features)
    domain.append(numa.cpu_element(spec, assignment, settings))
    ET.SubElement(domain, 'clock', {'offset': 'utc'})
    ET.SubElement(domain, 'on_poweroff').text = 'destroy'
    ET.SubElement(domain, 'on_reboot').text = 'restart'
    ET.SubElement(domain, 'on_crash').text = 'destroy'
    domain.append(_devices_element(spec, assignment, image, settings, ports, uuid,
                                   (hardware, quota)))
    _append(domain, security.seclabel_element(settings))
    _append(domain, security.launch_security_element(spec, assignment, settings))
    return domain


def domain_xml(spec, assignment, image, settings, ports=None, flavor=None):
    """The domain XML text (see ``build_domain``)."""
    element = build_domain(spec, assignment, image, settings, ports, flavor)
    ET.indent(element)
    return ET.tostring(element, encoding='unicode')


def _append(parent, child):
    if child is not None:
        parent.append(child)


def _check_inputs(spec, assignment, image, settings):
    if settings.virt_type not in ('kvm', 'qemu'):
        raise DomainBuildError(f"settings.virt_type: {settings.virt_type!r} is not kvm or qemu")
    if not image.get('kernel') and not image.get('disk'):
        raise DomainBuildError('image: needs "kernel" (direct boot) or "disk" (base image)')
    if image.get('disk') and not settings.disk_path:
        raise DomainBuildError('settings.disk_path: the image has a disk, the overlay path '
                               'is missing')
    cell_vcpus = sorted(v for cell in assignment.cells for v in cell.vcpus)
    if assignment.cells and cell_vcpus != list(range(assignment.vcpus)):
        raise DomainBuildError(f"assignment.cells: vCPUs {cell_vcpus} do not cover "
                               f"0..{assignment.vcpus - 1} exactly once")
    for cell in assignment.cells:
        if (cell.memory_mb * 1024) % cell.page_size_kb:
            raise DomainBuildError(f"assignment.cells[guest {cell.guest_cell}]: memory "
                                   f"{cell.memory_mb} MiB is not a whole number of "
                                   f"{cell.page_size_kb} KiB pages")
    cell_memory = sum(cell.memory_mb for cell in assignment.cells)
    if assignment.cells and cell_memory != assignment.memory_mb:
        raise DomainBuildError(f"assignment.cells: memory {cell_memory} MiB differs from "
                               f"memory_mb {assignment.memory_mb}")


def _os_element(spec, assignment, image, settings, hardware):
    os_element = ET.Element('os')
    type_attrs = {'arch': 'x86_64'}
    machine = security.machine_type(spec, assignment, settings, hardware)
    if machine:
        type_attrs['machine'] = machine
    ET.SubElement(os_element, 'type', type_attrs).text = 'hvm'
    security.apply_firmware(os_element, spec, assignment, settings, hardware)
    if image.get('kernel'):
        ET.SubElement(os_element, 'kernel').text = image['kernel']
        if image.get('initrd'):
            ET.SubElement(os_element, 'initrd').text = image['initrd']
        if image.get('cmdline'):
            ET.SubElement(os_element, 'cmdline').text = image['cmdline']
    else:
        ET.SubElement(os_element, 'boot', {'dev': 'hd'})
    guest_devices.apply_boot_menu(os_element, hardware)
    return os_element


def _devices_element(spec, assignment, image, settings, ports, uuid, asked):
    hardware, quota = asked
    iommu = security.wants_sev(spec, assignment)   # SEV: virtio DMA through the IOMMU
    element = ET.Element('devices')
    if image.get('disk'):
        _append(element, guest_devices.scsi_controller(hardware))
        element.append(devices.disk_element(settings.disk_path, iommu,
                                            guest_devices.disk_target(hardware),
                                            hardware.packed_ring,
                                            guest_devices.iotune_element(quota)))
    bound_ports = devices.resolve_ports(spec, ports, uuid)
    element.extend(devices.interface_elements(spec, assignment, bound_ports, settings, iommu,
                                              hardware, quota.bandwidth))
    element.extend(devices.alias_hostdevs(assignment))
    element.extend(devices.console_elements(settings.console_log))
    element.extend(guest_devices.extra_serial_ports(hardware))
    element.extend(guest_devices.device_elements(hardware, settings.virt_type))
    element.append(devices.balloon_element(memory.wants_balloon(spec, assignment), iommu))
    return element
