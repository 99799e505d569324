"""The guest hardware and tunables asked by flavor and image keys, as XML.

``wire.guest_hardware`` and ``wire.guest_quota`` decide what was asked.

Watchdog, extra serial ports, boot menu, PMU, hidden KVM signature, packed
virtqueues, disk bus, NIC model, video, RNG and pointer devices, virtual IOMMU:
each is what Nova's libvirt driver builds for the same key.  The scheduler checked the keys
with the same function, so a failure here means a spec from elsewhere.
"""

import xml.etree.ElementTree as ET

from agent.domain.settings import DomainBuildError
from wire.errors import InvalidInput
from wire.guest_hardware import guest_hardware
from wire.guest_quota import guest_quota

WATCHDOG_MODEL = 'i6300esb'
RNG_SOURCE = '/dev/urandom'
DISK_TARGETS = {'virtio': 'vda', 'scsi': 'sda', 'sata': 'sda', 'usb': 'sda'}
# Nova's Intel vIOMMU: interrupt remapping (with QEMU's split I/O APIC), caching mode (so
# assigned devices work), device IOTLB, QEMU's widest guest address width and, under KVM,
# extended interrupt mode (> 255 vCPUs; QEMU refuses it under TCG: "eim=on requires
# accel=kvm,kernel-irqchip=split").  The virtio model takes no driver options.
INTEL_IOMMU_DRIVER = {'intremap': 'on', 'caching_mode': 'on', 'iotlb': 'on', 'aw_bits': '48'}


def hardware_of(spec):
    """The spec's (GuestHardware, GuestQuota); a DomainBuildError naming a bad key."""
    try:
        return (guest_hardware(spec.extra_specs, spec.image_properties),
                guest_quota(spec.extra_specs))
    except InvalidInput as exc:
        raise DomainBuildError(str(exc))


def iotune_element(quota):
    """<iotune> of the ``quota:disk_*`` limits, or None."""
    if not quota.iotune:
        return None
    iotune = ET.Element('iotune')
    for element, value in quota.iotune:
        ET.SubElement(iotune, element).text = str(value)
    return iotune


def apply_features(features, hardware):
    """<pmu>, the hidden KVM signature and, for a vIOMMU, QEMU's I/O APIC in <features>."""
    if hardware.viommu_model:
        ET.SubElement(features, 'ioapic', {'driver': 'qemu'})
    if hardware.pmu is not None:
        ET.SubElement(features, 'pmu', {'state': 'on' if hardware.pmu else 'off'})
    if hardware.hide_hypervisor_id:
        kvm = ET.SubElement(features, 'kvm')
        ET.SubElement(kvm, 'hidden', {'state': 'on'})


def apply_boot_menu(os_element, hardware):
    if hardware.boot_menu:
        ET.SubElement(os_element, 'bootmenu', {'enable': 'yes'})


def extra_serial_ports(hardware):
    """Serial ports 1..N-1 (port 0 is the console log) as pseudo-terminals."""
    ports = []
    for port in range(1, hardware.serial_ports):
        serial = ET.Element('serial', {'type': 'pty'})
        ET.SubElement(serial, 'target', {'port': str(port)})
        ports.append(serial)
    return ports


def device_elements(hardware, virt_type='kvm'):
    """Pointer, video, watchdog, RNG, vTPM and vIOMMU devices."""
    elements = []
    if hardware.pointer_model == 'usbtablet':
        elements.append(ET.Element('input', {'type': 'tablet', 'bus': 'usb'}))
    if hardware.video_model:
        video = ET.Element('video')
        ET.SubElement(video, 'model', {'type': hardware.video_model})
        elements.append(video)
    if hardware.watchdog_action:
        elements.append(ET.Element('watchdog', {'model': WATCHDOG_MODEL,
                                                'action': hardware.watchdog_action}))
    if hardware.rng_model:
        elements.append(_rng_element(hardware))
    if hardware.tpm_version:
        tpm = ET.Element('tpm', {'model': hardware.tpm_model})
        ET.SubElement(tpm, 'backend', {'type': 'emulator', 'version': hardware.tpm_version})
        elements.append(tpm)
    if hardware.viommu_model:
        elements.append(_iommu_element(hardware.viommu_model, virt_type))
    return elements


def _iommu_element(model, virt_type):
    iommu = ET.Element('iommu', {'model': model})
    if model == 'intel':
        driver = dict(INTEL_IOMMU_DRIVER, eim='on') if virt_type == 'kvm' else INTEL_IOMMU_DRIVER
        ET.SubElement(iommu, 'driver', driver)
    return iommu


def _rng_element(hardware):
    rng = ET.Element('rng', {'model': hardware.rng_model})
    if hardware.rng_rate_bytes is not None:
        ET.SubElement(rng, 'rate', {'bytes': str(hardware.rng_rate_bytes),
                                    'period': str(hardware.rng_rate_period_ms)})
    ET.SubElement(rng, 'backend', {'model': 'random'}).text = RNG_SOURCE
    return rng


def disk_target(hardware):
    """(dev, bus) of the instance's disk."""
    return DISK_TARGETS[hardware.disk_bus], hardware.disk_bus


def scsi_controller(hardware):
    """A virtio-scsi controller for a disk on the scsi bus (Nova's default model)."""
    if hardware.disk_bus != 'scsi':
        return None
    return ET.Element('controller', {'type': 'scsi', 'index': '0', 'model': 'virtio-scsi'})
