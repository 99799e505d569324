"""Multiqueue, SEV, secure boot, traits, aggregates and key namespaces."""

import pytest

from tests.unit.scheduler.specs.helpers import assert_error, parse, request

UEFI = {'hw_firmware_type': 'uefi'}


@pytest.mark.parametrize('extra,image,expected', [
    ({}, None, None),                  # unset: the agent's default decides
    ({'hw:vif_multiqueue_enabled': 'true'}, None, True),
    ({'hw:vif_multiqueue_enabled': True}, None, True),
    ({'hw:vif_multiqueue_enabled': 'no'}, None, False),
    ({}, {'hw_vif_multiqueue_enabled': 'yes'}, True),
    ({'hw:vif_multiqueue_enabled': 'true'}, {'hw_vif_multiqueue_enabled': 'True'}, True),
])
def test_multiqueue(extra, image, expected):
    assert parse(extra, image).multiqueue is expected


@pytest.mark.parametrize('extra,image,expected', [
    ({}, None, False),
    ({'hw:mem_encryption': 'true'}, UEFI, True),
    ({}, {'hw_mem_encryption': True, **UEFI}, True),
    ({'hw:mem_encryption': 'false'}, None, False),
    ({'hw:mem_encryption': 'true'}, {'hw_machine_type': 'pc-q35-8.2', **UEFI}, True),
])
def test_mem_encryption(extra, image, expected):
    assert parse(extra, image).mem_encryption is expected


ES = {'hw:mem_encryption': 'true', 'hw:mem_encryption_model': 'amd-sev-es'}
SNP = {'hw:mem_encryption': 'true', 'hw:mem_encryption_model': 'amd-sev-snp'}


@pytest.mark.parametrize('extra,image,expected', [
    ({}, None, None),
    ({'hw:mem_encryption': 'true'}, UEFI, 'amd-sev'),          # Nova's default model
    (ES, UEFI, 'amd-sev-es'),
    ({'hw:mem_encryption': 'true', 'hw:mem_encryption_model': 'amd-sev'}, UEFI, 'amd-sev'),
    ({}, {'hw_mem_encryption': 'true', 'hw_mem_encryption_model': 'amd-sev-es', **UEFI},
     'amd-sev-es'),
    (ES, {'hw_mem_encryption_model': 'amd-sev-es', **UEFI}, 'amd-sev-es'),
    ({'hw:mem_encryption_model': 'amd-sev-es'}, {'hw_mem_encryption': 'true', **UEFI},
     'amd-sev-es'),
    (SNP, UEFI, 'amd-sev-snp'),
    ({}, {'hw_mem_encryption': 'true', 'hw_mem_encryption_model': 'amd-sev-snp', **UEFI},
     'amd-sev-snp'),
    (SNP, {'hw_mem_encryption_model': 'amd-sev-snp', 'hw_machine_type': 'q35', **UEFI},
     'amd-sev-snp'),
    ({'hw:mem_encryption_model': 'amd-sev-snp'}, {'hw_mem_encryption': 'true', **UEFI},
     'amd-sev-snp'),
    (dict(SNP, **{'os:secure_boot': 'optional'}), UEFI, 'amd-sev-snp'),  # used where it can
])
def test_mem_encryption_model(extra, image, expected):
    spec = parse(extra, image)
    assert (spec.mem_encryption, spec.mem_encryption_model) == (expected is not None, expected)


@pytest.mark.parametrize('extra,image,expected', [
    ({}, None, 'disabled'),
    ({'os:secure_boot': 'required'}, UEFI, 'required'),
    ({'os:secure_boot': 'optional'}, None, 'optional'),
    ({}, {'os_secure_boot': 'required', **UEFI}, 'required'),
    ({'os:secure_boot': 'disabled'}, {'os_secure_boot': 'disabled'}, 'disabled'),
])
def test_secure_boot(extra, image, expected):
    assert parse(extra, image).secure_boot == expected


@pytest.mark.parametrize('extra,image,field,words', [
    ({'hw:vif_multiqueue_enabled': 'sure'}, None, 'extra_specs.hw:vif_multiqueue_enabled',
     ("'sure'", 'boolean')),
    ({'hw:vif_multiqueue_enabled': 'true'}, {'hw_vif_multiqueue_enabled': 'false'},
     'image_properties.hw_vif_multiqueue_enabled', ('conflicts',)),
    ({'hw:mem_encryption': 'true'}, None, 'image_properties.hw_firmware_type',
     ('hw:mem_encryption=true', 'uefi')),
    ({'hw:mem_encryption': 'true'}, {'hw_firmware_type': 'bios'},
     'image_properties.hw_firmware_type', ("'bios'",)),
    ({'hw:mem_encryption': 'true'}, {'hw_mem_encryption': 'false', **UEFI},
     'image_properties.hw_mem_encryption', ('conflicts',)),
    ({}, {'hw_mem_encryption': 'true', 'hw_machine_type': 'pc-i440fx-8.2', **UEFI},
     'image_properties.hw_machine_type', ('q35',)),
    (ES, {'hw_mem_encryption_model': 'amd-sev', **UEFI},
     'image_properties.hw_mem_encryption_model', ('conflicts', "'amd-sev-es'")),
    ({'hw:mem_encryption': 'true', 'hw:mem_encryption_model': 'amd-sev-tdx'}, UEFI,
     'extra_specs.hw:mem_encryption_model', ("'amd-sev-tdx'", 'amd-sev-es', 'amd-sev-snp')),
    ({}, {'hw_mem_encryption': 'true', 'hw_mem_encryption_model': 'sev-snp', **UEFI},
     'image_properties.hw_mem_encryption_model', ("'sev-snp'", 'amd-sev-snp')),
    (SNP, {'hw_mem_encryption_model': 'amd-sev-es', **UEFI},
     'image_properties.hw_mem_encryption_model', ('conflicts', "'amd-sev-snp'")),
    (ES, {'hw_mem_encryption_model': 'amd-sev-snp', **UEFI},
     'image_properties.hw_mem_encryption_model', ('conflicts', "'amd-sev-es'")),
    ({'hw:mem_encryption_model': 'amd-sev-snp'}, UEFI, 'extra_specs.hw:mem_encryption_model',
     ("'amd-sev-snp' needs memory encryption",)),
    (SNP, None, 'image_properties.hw_firmware_type', ('hw:mem_encryption=true', 'uefi')),
    (SNP, {'hw_machine_type': 'pc-i440fx-8.2', **UEFI}, 'image_properties.hw_machine_type',
     ('q35',)),
    (dict(SNP, **{'os:secure_boot': 'required'}), UEFI, 'extra_specs.os:secure_boot',
     ('amd-sev-snp', 'no secure boot')),
    (SNP, {'os_secure_boot': 'required', **UEFI}, 'image_properties.os_secure_boot',
     ('amd-sev-snp', 'no secure boot')),
    ({'hw:mem_encryption_model': 'amd-sev-es'}, UEFI, 'extra_specs.hw:mem_encryption_model',
     ('needs memory encryption', 'hw:mem_encryption=true')),
    ({}, {'hw_mem_encryption_model': 'amd-sev', **UEFI},
     'image_properties.hw_mem_encryption_model', ('needs memory encryption',)),
    ({'os:secure_boot': 'yes'}, None, 'extra_specs.os:secure_boot', ("'yes'",)),
    ({'os:secure_boot': 'required'}, None, 'image_properties.hw_firmware_type',
     ('os:secure_boot=required', 'uefi')),
    ({'os:secure_boot': 'required'}, {'os_secure_boot': 'disabled', **UEFI},
     'image_properties.os_secure_boot', ('conflicts',)),
    ({'trait:HW_CPU_X86_AVX2': 'wanted'}, None, 'extra_specs.trait:HW_CPU_X86_AVX2',
     ("'wanted'",)),
    ({'trait:avx2': 'required'}, None, 'extra_specs.trait:avx2', ("'avx2'", 'trait name')),
    ({'trait:CUSTOM_X': 'required', 'trait1:CUSTOM_X': 'forbidden'}, None,
     'extra_specs.trait:CUSTOM_X', ('both required and forbidden',)),
    ({'trait:CUSTOM_X': 'forbidden'}, {'trait:CUSTOM_X': 'required'},
     'extra_specs.trait:CUSTOM_X', ('both required and forbidden',)),
    ({}, {'trait:CUSTOM_X': 'forbidden'}, 'image_properties.trait:CUSTOM_X',
     ('only require',)),
    ({'aggregate_instance_extra_specs:': 'x'}, None,
     'extra_specs.aggregate_instance_extra_specs:', ('no aggregate',)),
    ({'hw:foo': 'bar'}, None, 'extra_specs.hw:foo', ('not a hw: key',)),
    ({'hw:numa_cpus': '0'}, None, 'extra_specs.hw:numa_cpus', ('not a hw: key',)),
    ({'hw:cpu_polcy': 'dedicated'}, None, 'extra_specs.hw:cpu_polcy', ('not a hw: key',)),
    ({'os:bootmenu': 'x'}, None, 'extra_specs.os:bootmenu', ('not a os: key',)),
    ({'hw:pmem': '6GB'}, None, 'extra_specs.hw:pmem', ('not supported',)),
])
def test_misc_errors(extra, image, field, words):
    assert_error(request(extra, image), field, *words)


def test_traits_from_flavor_and_image():
    spec = parse({'trait:HW_CPU_X86_AVX2': 'required', 'trait:CUSTOM_SLOW': 'forbidden',
                  'trait2:CUSTOM_NIC': 'required'}, {'trait:HW_CPU_X86_AVX512F': 'required'})
    assert spec.required_traits == {'HW_CPU_X86_AVX2', 'CUSTOM_NIC', 'HW_CPU_X86_AVX512F'}
    assert spec.forbidden_traits == {'CUSTOM_SLOW'}


def test_aggregate_specs_are_kept_verbatim():
    spec = parse({'aggregate_instance_extra_specs:storage': 'ssd',
                  'aggregate_instance_extra_specs:generation': '<in> 3 4',
                  'aggregate_instance_extra_specs:gpu': '<or> a <or> b'})
    assert spec.aggregate_specs == {'storage': 'ssd', 'generation': '<in> 3 4',
                                    'gpu': '<or> a <or> b'}


def test_other_namespaces_are_kept_for_the_agent():
    extra = {'quota:cpu_shares': '2048', 'capabilities:hypervisor_type': 'QEMU',
             'hw_rng:allowed': 'True', 'unscoped': 'x',
             'hw:cpu_sockets': '2', 'hw:watchdog_action': 'reset'}
    spec = parse(extra)
    assert spec.extra_specs == extra
    assert spec.cpu_policy == 'shared' and spec.numa_cells == ()


@pytest.mark.parametrize('key, value, words', [
    ('resources:VGPU', '1', ('not modelled by kvmfleet',)),
    ('resources1:CUSTOM_FPGA', '1', ('not modelled by kvmfleet',)),
    ('resources:PCPU', '4', ('amounts come from vcpus',)),
    ('hw:stateless_firmware', 'true', ('hw_firmware_stateless',)),
    ('os:monitors', '2', ('Hyper-V',)),
    ('hw:cpu_model', 'Haswell', ('cpu_mode/cpu_model',)),
])
def test_keys_kvmfleet_does_not_build_are_refused_with_the_reason(key, value, words):
    assert_error(request({key: value}), f"extra_specs.{key}", *words)


@pytest.mark.parametrize('key, value, words', [
    ('hw_cdrom_bus', 'ide', ('no CD-ROM',)),
    ('img_config_drive', 'mandatory', ('no config drive',)),
])
def test_image_properties_kvmfleet_does_not_build_are_refused(key, value, words):
    assert_error(request({}, {key: value}), f"image_properties.{key}", *words)


def test_image_properties_are_kept_verbatim():
    image = {'hw_disk_bus': 'scsi', 'hw_numa_nodes': 2, 'os_distro': 'debian'}
    assert parse({}, image).image_properties == image


def test_non_scalar_extra_spec_values_are_refused():
    assert_error(request({'hw:numa_nodes': [2]}), 'extra_specs.hw:numa_nodes', 'not a string')
    assert_error(request(None, ['hw_cpu_policy']), 'image_properties', 'expected an object')


def test_a_vtpm_request_requires_the_hosts_vtpm_traits():
    spec = parse({'hw:tpm_version': '2.0', 'trait:HW_CPU_X86_AVX2': 'required'},
                 {'hw_tpm_model': 'tpm-crb'})
    assert spec.required_traits == {'HW_CPU_X86_AVX2', 'COMPUTE_SECURITY_TPM_2_0',
                                    'COMPUTE_SECURITY_TPM_CRB'}
