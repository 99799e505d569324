"""Firmware, memory encryption and sVirt: <os> firmware, <launchSecurity>, <seclabel>.

SEV needs a q35 machine booted from UEFI; its C-bit position and reduced
physical address bits come from the host's domain capabilities (settings).
SEV and SEV-ES guests get ``<launchSecurity type='sev'>``; SEV-SNP guests
``type='sev-snp'`` (libvirt >= 10.5) with the SNP guest policy of wire/sev.py,
and stateless UEFI that libvirt picks for SEV-SNP (``<loader stateless='yes'/>``:
edk2's AmdSev build, which has no secure boot, so secure boot is never asked).
Secure boot asks libvirt for UEFI firmware with the secure-boot feature and
turns on SMM, which that firmware requires.  Stateless firmware
(``hw_firmware_stateless``) is the host's plain UEFI code as a stateless
loader (``<loader stateless='yes'>``, no nvram).  A virtual IOMMU needs q35 too.
"""

import xml.etree.ElementTree as ET

from agent.domain.settings import DomainBuildError
from wire import sev
from wire.request_spec import SECURE_BOOT_OPTIONAL, SECURE_BOOT_REQUIRED

UEFI_MACHINE = 'q35'


def wants_sev(spec, assignment):
    return bool(assignment.sev or spec.mem_encryption)


def encryption_model(spec, assignment):
    """The memory encryption model (wire/sev.py) the guest runs with, or None."""
    return sev.model_of(assignment) or sev.spec_model(spec)


def wants_secure_boot(spec, settings, assignment):
    """Required: always (the scheduler chose a capable host); optional: if the host can.
    Never for SEV-SNP (its firmware has none; the scheduler refuses it required)."""
    if encryption_model(spec, assignment) == sev.SEV_SNP:
        return False
    if spec.secure_boot == SECURE_BOOT_REQUIRED:
        return True
    return spec.secure_boot == SECURE_BOOT_OPTIONAL and settings.secure_boot_available


def needs_uefi(spec, assignment, settings, hardware=None):
    """SEV, secure boot and stateless firmware (``hardware``: wire GuestHardware) are UEFI."""
    return (wants_sev(spec, assignment) or wants_secure_boot(spec, settings, assignment)
            or bool(hardware and hardware.firmware_stateless))


def machine_type(spec, assignment, settings, hardware=None):
    """The machine type: UEFI and vIOMMU guests get q35; otherwise the configured one (or
    libvirt's)."""
    if needs_uefi(spec, assignment, settings, hardware) or (hardware and hardware.needs_q35):
        return UEFI_MACHINE
    return spec.image_properties.get('hw_machine_type') or settings.machine_type


def apply_firmware(os_element, spec, assignment, settings, hardware=None):
    """Ask for UEFI (secure boot, stateless) on <os>; call before kernel/boot children."""
    if not needs_uefi(spec, assignment, settings, hardware):
        return
    snp = encryption_model(spec, assignment) == sev.SEV_SNP
    if hardware and hardware.firmware_stateless and not snp:
        _stateless_loader(os_element, settings)
        return
    os_element.set('firmware', 'efi')
    secure = wants_secure_boot(spec, settings, assignment)
    firmware = ET.SubElement(os_element, 'firmware')
    ET.SubElement(firmware, 'feature', {'enabled': 'yes' if secure else 'no',
                                        'name': 'secure-boot'})
    if secure:
        ET.SubElement(firmware, 'feature', {'enabled': 'yes', 'name': 'enrolled-keys'})
    if secure:
        ET.SubElement(os_element, 'loader', {'secure': 'yes'})
    elif snp:       # autoselected: the firmware that declares SEV-SNP, stateless
        ET.SubElement(os_element, 'loader', {'stateless': 'yes'})


def _stateless_loader(os_element, settings):
    """The host's plain UEFI code as a read-only stateless pflash: no nvram (libvirt 9.0's
    firmware autoselection finds nothing for a stateless loader, so the file is named)."""
    if not settings.stateless_loader:
        raise DomainBuildError('settings.stateless_loader: stateless firmware needs a plain '
                               "(not secure-boot) UEFI loader in the host's domain "
                               'capabilities (trait COMPUTE_SECURITY_STATELESS_FIRMWARE)')
    loader = ET.SubElement(os_element, 'loader', {'readonly': 'yes', 'type': 'pflash',
                                                  'stateless': 'yes'})
    loader.text = settings.stateless_loader


def features_element(spec, assignment, settings):
    """<features>: ACPI/APIC always; SMM for secure boot firmware."""
    features = ET.Element('features')
    ET.SubElement(features, 'acpi')
    ET.SubElement(features, 'apic')
    if wants_secure_boot(spec, settings, assignment):
        ET.SubElement(features, 'smm', {'state': 'on'})
    return features


def launch_security_element(spec, assignment, settings):
    """<launchSecurity type='sev'> (SEV, SEV-ES) or type='sev-snp', or None without memory
    encryption."""
    if not wants_sev(spec, assignment):
        return None
    if settings.sev_cbitpos is None or settings.sev_reduced_phys_bits is None:
        raise DomainBuildError('settings.sev_cbitpos/sev_reduced_phys_bits: SEV needs both, '
                               "from the host's domain capabilities")
    model = encryption_model(spec, assignment)
    snp = model == sev.SEV_SNP
    launch = ET.Element('launchSecurity', {'type': 'sev-snp' if snp else 'sev'})
    ET.SubElement(launch, 'cbitpos').text = str(settings.sev_cbitpos)
    ET.SubElement(launch, 'reducedPhysBits').text = str(settings.sev_reduced_phys_bits)
    policy = (f"0x{sev.SNP_POLICY:08x}" if snp
              else f"0x{sev.launch_policy(settings.sev_policy, model):04x}")
    ET.SubElement(launch, 'policy').text = policy
    return launch


def seclabel_element(settings):
    """<seclabel> per [libvirt] seclabel_model; None leaves libvirt's default."""
    model = settings.seclabel_model
    if model == 'default':
        return None
    if model == 'none':
        return ET.Element('seclabel', {'type': 'none'})
    return ET.Element('seclabel', {'type': 'dynamic', 'model': model, 'relabel': 'yes'})
