"""Domain XML for each kind of guest, compared structurally and schema-validated."""

import xml.etree.ElementTree as ET

import pytest

from agent.domain import DomainBuildError, parse_metadata
from agent.domain import domain_xml as unchecked_domain_xml
from tests.unit.agent.domain.builders import (
    DISK_IMAGE,
    KERNEL_IMAGE,
    UUID,
    assignment,
    cell,
    pci,
    settings,
    spec_for,
)
from tests.unit.agent.domain.schema import validate_domain_xml, validate_sev_snp_domain_xml
from wire.request_spec import CPU_DEDICATED, CPU_MIXED, EMULATOR_ISOLATE, PortRequest


def domain_xml(*args, **kwargs):
    """The XML under test, always schema-checked (refusals raise before validation)."""
    return validate_domain_xml(unchecked_domain_xml(*args, **kwargs))


def pins(domain):
    return {int(p.get('vcpu')): p.get('cpuset') for p in domain.findall('cputune/vcpupin')}


def attrs(element):
    return dict(element.attrib)


def test_pinned_guest_pins_each_vcpu_and_binds_memory(build):
    placed = assignment([cell(0, 1, (0, 1, 2, 3), 4096, pinning={0: 8, 1: 9, 2: 10, 3: 11})])
    domain = build(spec_for(placed, cpu_policy=CPU_DEDICATED,
                            dedicated_vcpus=frozenset(range(4))), placed, KERNEL_IMAGE,
                   settings())
    assert domain.get('type') == 'kvm'
    assert domain.findtext('uuid') == UUID
    assert domain.findtext('vcpu') == '4'
    assert pins(domain) == {0: '8', 1: '9', 2: '10', 3: '11'}
    # share policy without a shared set: emulator threads on the instance's own pCPUs
    assert domain.find('cputune/emulatorpin').get('cpuset') == '8-11'
    assert domain.find('cputune/vcpusched') is None
    assert attrs(domain.find('numatune/memory')) == {'mode': 'strict', 'nodeset': '1'}
    assert [attrs(m) for m in domain.findall('numatune/memnode')] == [
        {'cellid': '0', 'mode': 'strict', 'nodeset': '1'}]
    assert attrs(domain.find('cpu/numa/cell')) == {'id': '0', 'cpus': '0-3', 'memory': '4096',
                                                   'unit': 'MiB'}
    assert domain.find('memoryBacking') is None
    assert domain.find('devices/memballoon').get('model') == 'virtio'
    assert domain.findtext('memory') == str(4096 * 1024)


def test_mixed_guest_floats_unpinned_vcpus_over_the_shared_set(build):
    placed = assignment([cell(0, 0, (0, 1, 2, 3), 2048, pinning={2: 6, 3: 7}, shared=(0, 1))],
                        shared=(0, 1), emulator=(0, 1))
    domain = build(spec_for(placed, cpu_policy=CPU_MIXED, dedicated_vcpus=frozenset({2, 3})),
                   placed, KERNEL_IMAGE, settings())
    assert pins(domain) == {0: '0-1', 1: '0-1', 2: '6', 3: '7'}
    assert domain.find('cputune/emulatorpin').get('cpuset') == '0-1'


def test_isolate_with_isolated_emulator_keeps_siblings_and_emulator_apart(build):
    placed = assignment([cell(0, 0, (0, 1), 1024, pinning={0: 2, 1: 4}, reserved=(3, 5))],
                        emulator=(6,))
    domain = build(spec_for(placed, cpu_policy=CPU_DEDICATED, dedicated_vcpus=frozenset({0, 1}),
                            thread_policy='isolate', emulator_threads_policy=EMULATOR_ISOLATE),
                   placed, KERNEL_IMAGE, settings())
    assert pins(domain) == {0: '2', 1: '4'}
    assert domain.find('cputune/emulatorpin').get('cpuset') == '6'
    used = {p.get('cpuset') for p in domain.findall('cputune/*')}
    assert not used & {'3', '5'}      # reserved siblings run nothing


def test_realtime_vcpus_get_fifo_and_no_balloon(build):
    placed = assignment([cell(0, 0, (0, 1, 2, 3), 1024, pinning={0: 4, 1: 5, 2: 6, 3: 7})],
                        emulator=(4,))
    domain = build(spec_for(placed, cpu_policy=CPU_DEDICATED, dedicated_vcpus=frozenset(range(4)),
                            realtime_vcpus=frozenset({1, 2, 3})),
                   placed, KERNEL_IMAGE, settings())
    assert [attrs(s) for s in domain.findall('cputune/vcpusched')] == [
        {'vcpus': '1-3', 'scheduler': 'fifo', 'priority': '1'}]
    assert domain.find('devices/memballoon').get('model') == 'none'
    assert domain.find('memoryBacking/locked') is not None
    assert domain.find('memoryBacking/nosharepages') is not None


def test_two_cell_guest_spans_the_fixture_hosts_two_cells(build, cascadelake):
    cell0, cell1 = cascadelake.cells
    pcpus0, pcpus1 = sorted(cell0.cpus)[:2], sorted(cell1.cpus)[:2]
    placed = assignment([
        cell(0, cell0.id, (0, 1), 2048, page_kb=4, pinning=dict(zip((0, 1), pcpus0))),
        cell(1, cell1.id, (2, 3), 2048, page_kb=4, pinning=dict(zip((2, 3), pcpus1)))],
        host=cascadelake.name)
    domain = build(spec_for(placed, cpu_policy=CPU_DEDICATED, dedicated_vcpus=frozenset(range(4))),
                   placed, KERNEL_IMAGE, settings())
    assert domain.find('numatune/memory').get('nodeset') == f"{cell0.id}-{cell1.id}"
    assert {m.get('cellid'): m.get('nodeset') for m in domain.findall('numatune/memnode')} == {
        '0': str(cell0.id), '1': str(cell1.id)}
    assert [(c.get('id'), c.get('cpus')) for c in domain.findall('cpu/numa/cell')] == [
        ('0', '0-1'), ('1', '2-3')]
    assert pins(domain) == {0: str(pcpus0[0]), 1: str(pcpus0[1]),
                            2: str(pcpus1[0]), 3: str(pcpus1[1])}
    assert attrs(domain.find('cpu/topology')) == {'sockets': '2', 'dies': '1', 'cores': '2',
                                                  'threads': '1'}


def test_hugepages_2m_and_1g_per_guest_cell(build):
    placed = assignment([cell(0, 0, (0, 1), 1024, page_kb=2048, pinning={0: 2, 1: 3}),
                         cell(1, 1, (2, 3), 2048, page_kb=1048576, pinning={2: 10, 3: 11})])
    domain = build(spec_for(placed, cpu_policy=CPU_DEDICATED, dedicated_vcpus=frozenset(range(4)),
                            page_size='large'), placed, KERNEL_IMAGE, settings())
    assert [attrs(p) for p in domain.findall('memoryBacking/hugepages/page')] == [
        {'size': '2048', 'unit': 'KiB', 'nodeset': '0'},
        {'size': '1048576', 'unit': 'KiB', 'nodeset': '1'}]
    assert [c.get('memAccess') for c in domain.findall('cpu/numa/cell')] == ['shared', 'shared']
    assert domain.find('devices/memballoon').get('model') == 'none'


def test_same_page_size_cells_share_one_page_element(build):
    placed = assignment([cell(0, 0, (0,), 512, page_kb=2048, pinning={0: 2}),
                         cell(1, 1, (1,), 512, page_kb=2048, pinning={1: 10})])
    domain = build(spec_for(placed, page_size=2048), placed, KERNEL_IMAGE, settings())
    assert [attrs(p) for p in domain.findall('memoryBacking/hugepages/page')] == [
        {'size': '2048', 'unit': 'KiB', 'nodeset': '0-1'}]


def test_sriov_vf_port_with_vlan_and_alias_hostdev(build):
    placed = assignment([cell(0, 0, (0, 1), 1024, pinning={0: 2, 1: 3})],
                        pci=[pci('0000:82:00.3', 'port:1', physnet='physnet2'),
                             pci('0000:06:00.0', 'alias:gpu')])
    spec = spec_for(placed, cpu_policy=CPU_DEDICATED, dedicated_vcpus=frozenset({0, 1}),
                    ports=(PortRequest(), PortRequest(vnic_type='direct',
                                                      physical_network='physnet2',
                                                      mac_address='fa:16:3e:00:00:01', vlan=42)))
    domain = build(spec, placed, KERNEL_IMAGE, settings())
    tap, vf = domain.findall('devices/interface')
    assert tap.get('type') == 'ethernet'
    assert attrs(vf) == {'type': 'hostdev', 'managed': 'yes'}
    assert vf.find('mac').get('address') == 'fa:16:3e:00:00:01'
    assert attrs(vf.find('source/address')) == {'type': 'pci', 'domain': '0x0000',
                                                'bus': '0x82', 'slot': '0x00',
                                                'function': '0x3'}
    assert vf.find('vlan/tag').get('id') == '42'
    hostdev, = domain.findall('devices/hostdev')
    assert attrs(hostdev) == {'mode': 'subsystem', 'type': 'pci', 'managed': 'yes'}
    assert hostdev.find('source/address').get('bus') == '0x06'


@pytest.mark.parametrize('multiqueue, vcpus, vhost, cap, driver', [
    (True, 2, False, 256, {'name': 'qemu', 'queues': '2'}),
    (True, 4, True, 256, {'name': 'vhost', 'queues': '4'}),
    (True, 8, False, 4, {'name': 'qemu', 'queues': '4'}),
    (False, 4, False, 256, {'name': 'qemu'}),
    (True, 1, False, 256, {'name': 'qemu'}),
    (None, 4, False, 256, {'name': 'qemu', 'queues': '4'}),      # unset: on by default
    (None, 1, False, 256, {'name': 'qemu'}),
    ((None, False), 4, False, 256, {'name': 'qemu'}),            # default turned off
    ((True, False), 4, False, 256, {'name': 'qemu', 'queues': '4'}),
])
def test_tap_interface_queues_and_backend(build, multiqueue, vcpus, vhost, cap, driver):
    multiqueue, default = multiqueue if isinstance(multiqueue, tuple) else (multiqueue, True)
    placed = assignment(vcpus=vcpus, memory_mb=512, shared=(0, 1))
    spec = spec_for(placed, ports=(PortRequest(),), multiqueue=multiqueue)
    domain = build(spec, placed, KERNEL_IMAGE, settings(vhost_net=vhost, max_tap_queues=cap,
                                                        multiqueue_default=default))
    interface = domain.find('devices/interface')
    assert interface.get('type') == 'ethernet'
    assert attrs(interface.find('driver')) == driver
    assert interface.find('model').get('type') == 'virtio'
    assert len(interface.find('target').get('dev')) <= 15
    assert interface.find('source') is None      # no libvirt network behind it


def test_sev_guest_is_q35_uefi_locked_with_launch_security(build):
    placed = assignment([cell(0, 0, (0, 1), 2048, pinning={0: 2, 1: 3})], sev=True)
    spec = spec_for(placed, mem_encryption=True, ports=(PortRequest(),))
    domain = build(spec, placed, DISK_IMAGE,
                   settings(disk_path='/i/disk.qcow2', sev_cbitpos=47, sev_reduced_phys_bits=1))
    assert domain.find('os').get('firmware') == 'efi'
    assert domain.find('os/type').get('machine') == 'q35'
    launch = domain.find('launchSecurity')
    assert launch.get('type') == 'sev'
    assert (launch.findtext('cbitpos'), launch.findtext('reducedPhysBits')) == ('47', '1')
    assert domain.find('memoryBacking/locked') is not None
    assert domain.find('devices/disk/driver').get('iommu') == 'on'
    assert domain.find('devices/interface/driver').get('iommu') == 'on'


@pytest.mark.parametrize('model, sev_es, policy', [
    (None, False, '0x0033'),              # hw:mem_encryption alone: SEV
    ('amd-sev', False, '0x0033'),
    ('amd-sev-es', True, '0x0037'),       # the ES bit (0x4) of the guest policy
])
def test_sev_es_guest_sets_the_es_policy_bit(build, model, sev_es, policy):
    placed = assignment([cell(0, 0, (0, 1), 2048, pinning={0: 2, 1: 3})], sev=True,
                        sev_es=sev_es)
    spec = spec_for(placed, mem_encryption=True, mem_encryption_model=model)
    domain = build(spec, placed, DISK_IMAGE,
                   settings(disk_path='/i/disk.qcow2', sev_cbitpos=51, sev_reduced_phys_bits=1))
    assert domain.find('launchSecurity').findtext('policy') == policy


def snp_domain(spec_fields=None, image=DISK_IMAGE, **setting_fields):
    """An SEV-SNP guest's domain, parsed, after validate_sev_snp_domain_xml."""
    placed = assignment([cell(0, 0, (0, 1), 2048, pinning={0: 2, 1: 3})], sev=True,
                        sev_es=True, sev_snp=True)
    spec = spec_for(placed, mem_encryption=True, mem_encryption_model='amd-sev-snp',
                    ports=(PortRequest(),), **(spec_fields or {}))
    values = dict(disk_path='/i/disk.qcow2', sev_cbitpos=51, sev_reduced_phys_bits=1)
    xml = unchecked_domain_xml(spec, placed, image, settings(**values, **setting_fields))
    return ET.fromstring(validate_sev_snp_domain_xml(xml))


def test_sev_snp_guest_has_its_own_launch_security_and_stateless_uefi():
    domain = snp_domain()
    launch = domain.find('launchSecurity')
    assert attrs(launch) == {'type': 'sev-snp'}
    assert [(child.tag, child.text) for child in launch] == [
        ('cbitpos', '51'), ('reducedPhysBits', '1'), ('policy', '0x00030000')]
    assert domain.find('os/type').get('machine') == 'q35'
    assert domain.find('os').get('firmware') == 'efi'
    assert attrs(domain.find('os/loader')) == {'stateless': 'yes'}     # libvirt picks it
    assert [attrs(f) for f in domain.findall('os/firmware/feature')] == [
        {'enabled': 'no', 'name': 'secure-boot'}]
    assert domain.find('os/nvram') is None and domain.find('features/smm') is None
    assert domain.find('memoryBacking/locked') is not None
    assert domain.find('devices/disk/driver').get('iommu') == 'on'
    assert domain.find('devices/interface/driver').get('iommu') == 'on'


def test_sev_snp_policy_allows_smt_keeps_the_reserved_bit_and_no_debug():
    policy = int(snp_domain().find('launchSecurity').findtext('policy'), 16)
    assert policy & (1 << 17) and policy & (1 << 16)       # reserved must-be-one; SMT
    assert not policy & (1 << 19)                          # no debugging
    assert policy >> 32 == 0 and policy & 0xffff == 0      # no ABI minimum, no other bit


@pytest.mark.parametrize('spec_fields, available', [
    ({'secure_boot': 'optional'}, True),            # SNP firmware has none: not used
    ({'image_properties': {'hw_firmware_stateless': 'true', 'hw_firmware_type': 'uefi'}},
     False),                                        # stateless anyway: the SNP firmware
])
def test_sev_snp_firmware_is_never_secure_boot_nor_a_named_loader(spec_fields, available):
    domain = snp_domain(spec_fields, secure_boot_available=available,
                        stateless_loader='/usr/share/OVMF/OVMF_CODE_4M.fd')
    assert attrs(domain.find('os/loader')) == {'stateless': 'yes'}
    assert domain.find('os/loader').text is None and domain.find('features/smm') is None


@pytest.mark.parametrize('launch', [
    "<launchSecurity type='sev-snp'><cbitpos>51</cbitpos></launchSecurity>",   # no policy
    "<launchSecurity type='sev-snp'><policy>0x3000g</policy></launchSecurity>",
    "<launchSecurity type='sev-snp' vcek='maybe'><policy>0x30000</policy></launchSecurity>",
    "<launchSecurity type='sev-snp'><policy>1</policy><dhCert>x</dhCert></launchSecurity>",
])
def test_the_sev_snp_check_refuses_what_libvirts_schema_refuses(launch):
    xml = ET.tostring(snp_domain(), encoding='unicode')
    head = xml[:xml.index('<launchSecurity')]
    good = ("<launchSecurity type='sev-snp' authorKey='no'><policy>0x30000</policy>"
            "<hostData>AAAA</hostData></launchSecurity>")
    assert validate_sev_snp_domain_xml(head + good + '</domain>')
    with pytest.raises(AssertionError):
        validate_sev_snp_domain_xml(head + launch + '</domain>')


def test_sev_snp_without_host_parameters_is_refused():
    placed = assignment([cell(0, 0, (0,), 512, pinning={0: 2})], sev=True, sev_es=True,
                        sev_snp=True)
    spec = spec_for(placed, mem_encryption=True, mem_encryption_model='amd-sev-snp')
    with pytest.raises(DomainBuildError, match='sev_cbitpos'):
        unchecked_domain_xml(spec, placed, KERNEL_IMAGE, settings())


def test_sev_without_host_parameters_is_refused():
    placed = assignment([cell(0, 0, (0,), 512, pinning={0: 2})], sev=True)
    with pytest.raises(DomainBuildError, match='sev_cbitpos'):
        domain_xml(spec_for(placed, mem_encryption=True), placed, KERNEL_IMAGE, settings())


@pytest.mark.parametrize('policy, available, secure', [
    ('required', False, True), ('optional', True, True), ('optional', False, False),
    ('disabled', True, False)])
def test_secure_boot_firmware(build, policy, available, secure):
    placed = assignment(vcpus=1, memory_mb=512, shared=(0,))
    domain = build(spec_for(placed, secure_boot=policy), placed, DISK_IMAGE,
                   settings(disk_path='/i/disk.qcow2', secure_boot_available=available))
    features = {f.get('name'): f.get('enabled') for f in domain.findall('os/firmware/feature')}
    if secure:
        assert domain.find('os').get('firmware') == 'efi'
        assert features == {'secure-boot': 'yes', 'enrolled-keys': 'yes'}
        assert domain.find('os/loader').get('secure') == 'yes'
        assert domain.find('features/smm').get('state') == 'on'
        assert domain.find('os/type').get('machine') == 'q35'
    else:
        assert domain.find('os').get('firmware') is None
        assert domain.find('features/smm') is None


HOSTILE = '<evil&"name\'>'


def test_hostile_names_and_metadata_are_escaped_and_round_trip(build):
    placed = assignment([cell(0, 0, (0,), 512, pinning={0: 2})])
    spec = spec_for(placed, name=HOSTILE + '</title><devices/>',
                    extra_specs={'hw:cpu_policy': 'dedicated', HOSTILE: HOSTILE},
                    image_properties={'os': ']]><x/>'})
    domain = build(spec, placed, KERNEL_IMAGE, settings(), flavor=HOSTILE)
    assert domain.findtext('title') == HOSTILE + '</title><devices/>'
    assert len(domain.findall('devices')) == 1 and len(domain.findall('title')) == 1
    text = domain_xml(spec, placed, KERNEL_IMAGE, settings(), flavor=HOSTILE)
    uuid, parsed_spec, parsed_assignment = parse_metadata(text)
    assert (uuid, parsed_spec, parsed_assignment) == (UUID, spec, placed)
    assert domain.findtext('name') == f"kvmfleet-{UUID}"   # the domain name is never user text


def test_floating_guest_has_no_pins_or_numatune(build):
    placed = assignment(vcpus=2, memory_mb=1024, shared=(0, 1, 2))
    domain = build(spec_for(placed), placed, KERNEL_IMAGE, settings())
    assert attrs(domain.find('vcpu')) == {'placement': 'static', 'cpuset': '0-2'}
    assert domain.find('cputune') is None and domain.find('numatune') is None
    assert domain.find('cpu/numa') is None
    assert domain.find('devices/memballoon').get('model') == 'virtio'


def test_disk_image_boots_from_the_overlay(build):
    placed = assignment(vcpus=1, memory_mb=512, shared=(0,))
    domain = build(spec_for(placed), placed, DISK_IMAGE, settings(disk_path='/i/disk.qcow2'))
    disk = domain.find('devices/disk')
    assert disk.find('source').get('file') == '/i/disk.qcow2'
    assert disk.find('driver').get('type') == 'qcow2'
    assert attrs(disk.find('target')) == {'dev': 'vda', 'bus': 'virtio'}
    assert domain.find('os/kernel') is None and domain.find('os/boot').get('dev') == 'hd'


def test_kernel_image_boots_directly_with_console_to_file(build):
    placed = assignment(vcpus=1, memory_mb=512, shared=(0,))
    domain = build(spec_for(placed), placed, KERNEL_IMAGE, settings(virt_type='qemu'))
    assert domain.get('type') == 'qemu'
    assert domain.findtext('os/kernel') == KERNEL_IMAGE['kernel']
    assert domain.findtext('os/initrd') == KERNEL_IMAGE['initrd']
    assert domain.findtext('os/cmdline') == 'console=ttyS0'
    assert domain.find('devices/disk') is None
    serial, console = domain.find('devices/serial'), domain.find('devices/console')
    assert serial.get('type') == 'file' and console.get('type') == 'file'
    assert serial.find('source').get('path') == settings().console_log


@pytest.mark.parametrize('virt_type, mode, model, expected', [
    ('kvm', None, None, {'mode': 'host-model'}),
    ('qemu', None, None, {}),
    ('kvm', 'host-passthrough', None, {'mode': 'host-passthrough'}),
    ('kvm', 'custom', 'Cascadelake-Server', {'mode': 'custom', 'match': 'exact'}),
    ('kvm', 'none', None, {}),
])
def test_cpu_mode_from_config(build, virt_type, mode, model, expected):
    placed = assignment(vcpus=2, memory_mb=512, shared=(0, 1))
    domain = build(spec_for(placed), placed, KERNEL_IMAGE,
                   settings(virt_type=virt_type, cpu_mode=mode, cpu_model=model))
    assert attrs(domain.find('cpu')) == expected
    assert domain.findtext('cpu/model') == model


@pytest.mark.parametrize('model, expected', [
    ('default', None), ('none', {'type': 'none'}),
    ('selinux', {'type': 'dynamic', 'model': 'selinux', 'relabel': 'yes'}),
    ('apparmor', {'type': 'dynamic', 'model': 'apparmor', 'relabel': 'yes'}),
    ('dac', {'type': 'dynamic', 'model': 'dac', 'relabel': 'yes'})])
def test_seclabel_from_config(build, model, expected):
    placed = assignment(vcpus=1, memory_mb=512, shared=(0,))
    domain = build(spec_for(placed), placed, KERNEL_IMAGE, settings(seclabel_model=model))
    seclabel = domain.find('seclabel')
    assert (None if seclabel is None else attrs(seclabel)) == expected


@pytest.mark.parametrize('extra, image_props, expected', [
    ({}, {}, ('2', '2', '1')),
    ({'hw:cpu_sockets': '1'}, {}, ('1', '4', '1')),
    ({'hw:cpu_threads': '2'}, {}, ('2', '1', '2')),
    ({}, {'hw_cpu_cores': '2', 'hw_cpu_threads': '2'}, ('1', '2', '2')),
    ({'hw:cpu_cores': '2'}, {}, ('2', '2', '1')),
    ({'hw:cpu_max_sockets': '1'}, {}, ('1', '4', '1')),
])
def test_cpu_topology(build, extra, image_props, expected):
    """wire.guest_cpu decides (tests/unit/wire/test_guest_cpu.py has its rules)."""
    placed = assignment([cell(0, 0, (0, 1), 512, pinning={0: 2, 1: 3}),
                         cell(1, 1, (2, 3), 512, pinning={2: 10, 3: 11})])
    domain = build(spec_for(placed, extra_specs=extra, image_properties=image_props),
                   placed, KERNEL_IMAGE, settings())
    topology = domain.find('cpu/topology')
    assert (topology.get('sockets'), topology.get('cores'), topology.get('threads')) == expected


def test_unequal_cells_give_one_socket(build):
    placed = assignment([cell(0, 0, (0,), 512, pinning={0: 2}),
                         cell(1, 1, (1, 2), 512, pinning={1: 10, 2: 11})])
    domain = build(spec_for(placed), placed, KERNEL_IMAGE, settings())
    assert domain.find('cpu/topology').get('sockets') == '1'
    assert domain.find('cpu/topology').get('cores') == '3'


@pytest.mark.parametrize('case, placed, image, extra_settings, match', [
    ('no boot source', assignment(vcpus=1, memory_mb=512), {'name': 'x'}, {}, 'kernel'),
    ('disk without overlay path', assignment(vcpus=1, memory_mb=512), DISK_IMAGE, {},
     'disk_path'),
    ('cells miss a vcpu', assignment([cell(0, 0, (0,), 512, pinning={0: 1})], vcpus=2),
     KERNEL_IMAGE, {}, 'do not cover'),
    ('cells memory differs', assignment([cell(0, 0, (0,), 512, pinning={0: 1})],
                                        memory_mb=1024), KERNEL_IMAGE, {}, 'memory'),
    ('memory not a whole number of pages',
     assignment([cell(0, 0, (0,), 1536, page_kb=1048576, pinning={0: 1})]), KERNEL_IMAGE, {},
     'whole number'),
    ('bad pci address', assignment(vcpus=1, memory_mb=512, pci=[pci('82:0.zz', 'alias:a')]),
     KERNEL_IMAGE, {}, 'PCI address'),
    ('bad virt type', assignment(vcpus=1, memory_mb=512), KERNEL_IMAGE, {'virt_type': 'xen'},
     'virt_type'),
])
def test_bad_inputs_name_the_problem(case, placed, image, extra_settings, match):
    with pytest.raises(DomainBuildError, match=match):
        domain_xml(spec_for(placed, numa_cells=()), placed, image, settings(**extra_settings))


def test_direct_port_without_a_vf_is_refused():
    placed = assignment(vcpus=1, memory_mb=512)
    spec = spec_for(placed, ports=(PortRequest(vnic_type='direct'),))
    with pytest.raises(DomainBuildError, match=r'ports\[0\]'):
        domain_xml(spec, placed, KERNEL_IMAGE, settings())


def test_ports_given_by_the_caller_override_the_request(build):
    placed = assignment(vcpus=1, memory_mb=512)
    spec = spec_for(placed, ports=(PortRequest(),))
    domain = build(spec, placed, KERNEL_IMAGE, settings(),
                   ports=[{'mac_address': '52:54:00:aa:bb:cc', 'target_dev': 'tapabc'}])
    interface = domain.find('devices/interface')
    assert interface.find('mac').get('address') == '52:54:00:aa:bb:cc'
    assert interface.find('target').get('dev') == 'tapabc'


def test_same_inputs_same_xml():
    placed = assignment([cell(0, 0, (0, 1), 512, page_kb=2048, pinning={0: 2, 1: 3})])
    spec = spec_for(placed, ports=(PortRequest(), PortRequest()), multiqueue=True)
    assert domain_xml(spec, placed, KERNEL_IMAGE, settings()) == \
        domain_xml(spec, placed, KERNEL_IMAGE, settings())


def test_numa_guest_without_pinning_floats_within_each_cells_shared_set(build):
    placed = assignment([cell(0, 0, (0, 1), 512, shared=(0, 1)),
                         cell(1, 1, (2, 3), 512, shared=(8, 9))], shared=(0, 1, 8, 9))
    domain = build(spec_for(placed), placed, KERNEL_IMAGE, settings())
    assert pins(domain) == {0: '0-1', 1: '0-1', 2: '8-9', 3: '8-9'}
    assert domain.find('cputune/emulatorpin').get('cpuset') == '0-1,8-9'
    assert domain.find('vcpu').get('cpuset') is None


def test_a_cpu_topology_that_cannot_be_met_is_a_build_error_naming_the_key(build):
    placed = assignment([cell(0, 0, (0, 1), 512, pinning={0: 2, 1: 3}),
                         cell(1, 1, (2, 3), 512, pinning={2: 10, 3: 11})])
    with pytest.raises(DomainBuildError, match=r'extra_specs\.hw:cpu_sockets: hw:cpu_sockets=3'):
        build(spec_for(placed, extra_specs={'hw:cpu_sockets': '3'}), placed, KERNEL_IMAGE,
              settings())
