"""wire.guest_hardware: which side wins for each key, and each key's refusals."""

import pytest

from wire.errors import InvalidInput
from wire.guest_hardware import GuestHardware, guest_hardware

RESOLVED = [
    ({}, {}, {}),
    ({'hw:watchdog_action': 'reset'}, {}, {'watchdog_action': 'reset'}),
    ({'hw:watchdog_action': 'disabled'}, {'hw_watchdog_action': 'pause'}, {}),  # flavor wins
    ({}, {'hw_watchdog_action': 'poweroff'}, {'watchdog_action': 'poweroff'}),
    ({'hw:serial_port_count': '4'}, {'hw_serial_port_count': '2'}, {'serial_ports': 2}),
    ({'hw:serial_port_count': '3'}, {}, {'serial_ports': 3}),
    ({'hw:boot_menu': 'true'}, {'hw_boot_menu': 'false'}, {}),                  # image wins
    ({'hw:boot_menu': 'yes'}, {}, {'boot_menu': True}),
    ({'hw:pmu': 'false'}, {'hw_pmu': 'False'}, {'pmu': False}),
    ({}, {'hw_pmu': True}, {'pmu': True}),
    ({}, {'img_hide_hypervisor_id': 'true'}, {'hide_hypervisor_id': True}),
    ({'hw:virtio_packed_ring': 'true'}, {}, {'packed_ring': True}),
    ({}, {'hw_disk_bus': 'SCSI', 'hw_vif_model': 'e1000', 'hw_video_model': 'virtio',
          'hw_pointer_model': 'usbtablet'},
     {'disk_bus': 'scsi', 'vif_model': 'e1000', 'video_model': 'virtio',
      'pointer_model': 'usbtablet'}),
    ({'hw_rng:allowed': 'True', 'hw_rng:rate_bytes': '1024', 'hw_rng:rate_period': '1000'},
     {'hw_rng_model': 'virtio'},
     {'rng_model': 'virtio', 'rng_rate_bytes': 1024, 'rng_rate_period_ms': 1000}),
    ({'hw:tpm_version': '2.0'}, {}, {'tpm_version': '2.0', 'tpm_model': 'tpm-tis'}),
    ({'hw:tpm_version': '2.0'}, {'hw_tpm_version': '2.0', 'hw_tpm_model': 'tpm-crb'},
     {'tpm_version': '2.0', 'tpm_model': 'tpm-crb'}),
    ({'hw:viommu_model': 'intel'}, {}, {'viommu_model': 'intel'}),
    ({'hw:viommu_model': 'auto'}, {'hw_viommu_model': 'AUTO', 'hw_machine_type': 'pc-q35-7.2'},
     {'viommu_model': 'virtio'}),
    ({}, {'hw_viommu_model': 'virtio'}, {'viommu_model': 'virtio'}),
    ({'hw:viommu_model': 'none'}, {}, {}),
    ({}, {'hw_firmware_type': 'uefi', 'hw_firmware_stateless': 'true'},
     {'firmware_stateless': True}),
    ({}, {'hw_firmware_stateless': 'false'}, {}),
]


@pytest.mark.parametrize('flavor, image, changed', RESOLVED)
def test_resolution(flavor, image, changed):
    assert guest_hardware(flavor, image) == GuestHardware(**changed)


REFUSED = [
    ({'hw:watchdog_action': 'explode'}, {}, 'extra_specs.hw:watchdog_action',
     "'explode' is not one of disabled, reset, poweroff, pause, none"),
    ({'hw:serial_port_count': '2'}, {'hw_serial_port_count': '3'},
     'image_properties.hw_serial_port_count', "3 exceeds the flavor's hw:serial_port_count=2"),
    ({'hw:serial_port_count': '9'}, {}, 'extra_specs.hw:serial_port_count',
     "'9' is not an integer 1..8"),
    ({'hw:serial_port_count': '²'}, {}, 'extra_specs.hw:serial_port_count',
     "'²' is not an integer 1..8"),
    ({'hw:pmu': 'true'}, {'hw_pmu': 'no'}, 'image_properties.hw_pmu',
     "False conflicts with the flavor's hw:pmu=True"),
    ({'hw:boot_menu': 'maybe'}, {}, 'extra_specs.hw:boot_menu',
     "'maybe' is not a boolean (true/false)"),
    ({}, {'hw_disk_bus': 'ide'}, 'image_properties.hw_disk_bus',
     "'ide' is not one of virtio, scsi, sata, usb"),
    ({}, {'hw_rng_model': 'virtio'}, 'image_properties.hw_rng_model',
     'the flavor does not allow an RNG device (hw_rng:allowed=true)'),
    ({'hw_rng:rate_bytes': '10'}, {}, 'extra_specs.hw_rng:rate_bytes',
     'hw_rng:rate_bytes and hw_rng:rate_period go together'),
    ({}, {'hw_video_model': ['vga']}, 'image_properties.hw_video_model',
     "['vga'] is not a string"),
    ({'hw:tpm_version': '2.0'}, {'hw_tpm_version': '1.2'}, 'image_properties.hw_tpm_version',
     "1.2 conflicts with the flavor's hw:tpm_version=2.0"),
    ({'hw:tpm_model': 'tpm-crb'}, {}, 'extra_specs.hw:tpm_version',
     'is required with a TPM model (tpm-crb)'),
    ({'hw:tpm_version': '1.2', 'hw:tpm_model': 'tpm-crb'}, {}, 'extra_specs.hw:tpm_model',
     'tpm-crb needs TPM version 2.0'),
    ({'hw:tpm_version': '3'}, {}, 'extra_specs.hw:tpm_version', "'3' is not one of 1.2, 2.0"),
    ({'hw:viommu_model': 'amd'}, {}, 'extra_specs.hw:viommu_model',
     "'amd' is not one of none, intel, smmuv3, virtio, auto"),
    ({'hw:viommu_model': 'intel'}, {'hw_viommu_model': 'virtio'},
     'image_properties.hw_viommu_model', "virtio conflicts with the flavor's "
                                         'hw:viommu_model=intel'),
    ({}, {'hw_viommu_model': 'smmuv3'}, 'image_properties.hw_viommu_model',
     'smmuv3 is the Arm SMMU (aarch64 guests); kvmfleet guests are x86_64: use intel, virtio '
     'or auto'),
    ({'hw:viommu_model': 'intel'}, {'hw_machine_type': 'pc-i440fx-7.2'},
     'image_properties.hw_machine_type', "'pc-i440fx-7.2': a virtual IOMMU "
                                         '(extra_specs.hw:viommu_model) needs a q35 machine type'),
    ({}, {'hw_firmware_stateless': 'true'}, 'image_properties.hw_firmware_stateless',
     'needs hw_firmware_type=uefi, not None (stateless firmware is UEFI without a variable '
     'store)'),
    ({}, {'hw_firmware_type': 'bios', 'hw_firmware_stateless': 'yes'},
     'image_properties.hw_firmware_stateless',
     "needs hw_firmware_type=uefi, not 'bios' (stateless firmware is UEFI without a variable "
     'store)'),
    ({'os:secure_boot': 'required'}, {'hw_firmware_type': 'uefi',
                                      'hw_firmware_stateless': 'true'},
     'image_properties.hw_firmware_stateless',
     'cannot go with os:secure_boot=required: kvmfleet builds stateless firmware from the '
     'plain (not secure-boot) UEFI code'),
    ({}, {'hw_firmware_type': 'uefi', 'hw_firmware_stateless': 'sometimes'},
     'image_properties.hw_firmware_stateless', "'sometimes' is not a boolean (true/false)"),
]


@pytest.mark.parametrize('flavor, image, field, rule', REFUSED)
def test_refusals_name_the_key_and_the_rule(flavor, image, field, rule):
    with pytest.raises(InvalidInput) as caught:
        guest_hardware(flavor, image)
    assert [(e.field, e.rule) for e in caught.value.errors] == [(field, rule)]


def test_a_vtpm_requires_the_host_traits_of_its_version_and_model():
    hardware = guest_hardware({'hw:tpm_version': '2.0', 'hw:tpm_model': 'tpm-crb'}, {})
    assert hardware.required_traits == {'COMPUTE_SECURITY_TPM_2_0', 'COMPUTE_SECURITY_TPM_CRB'}
    assert guest_hardware({}, {}).required_traits == frozenset()


def test_stateless_firmware_requires_the_host_trait():
    hardware = guest_hardware({}, {'hw_firmware_type': 'uefi', 'hw_firmware_stateless': 'true'})
    assert hardware.required_traits == {'COMPUTE_SECURITY_STATELESS_FIRMWARE'}


def test_a_viommu_needs_q35_and_requires_no_trait():
    hardware = guest_hardware({'hw:viommu_model': 'intel'}, {})
    assert hardware.needs_q35 and hardware.required_traits == frozenset()
    assert not guest_hardware({}, {}).needs_q35
