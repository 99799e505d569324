"""discover() through the libvirt seam (FixtureConnection), every capture end to end."""

import pytest

from agent.discovery.host import discover, kvm_device_usable, probe_virt_type
from agent.discovery.opts import HostSettings
from agent.discovery.pci_spec import parse_device_specs
from agent.exceptions import InvalidConfig, LibvirtError
from tests.unit.agent.fakes import DATA, FixtureConnection, read
from wire.files import parse_fleet

# capture: ({cell: memory_mb}, {cell: pools}) after discovery with default options
CAPTURES = {
    'vdsm_caps_libvirt_multiqemu.xml': ({0: 32660, 1: 32768}, {0: {2048: 0}, 1: {2048: 0}}),
    # old format: no <memory>, no <pages>: the host total (here 48 GiB) split evenly
    'vdsm_caps_libvirt_intel_E5649.xml': ({0: 24576, 1: 24576}, {0: {}, 1: {}}),
    # vdsm's hand-added pages, no <memory>: memory is what the pages hold
    'vdsm_caps_libvirt_amd_6274.xml': (
        {0: 209, 1: 2, 2: 0, 3: 209},
        {0: {2048: 100}, 1: {2048: 1}, 2: {2048: 0}, 3: {2048: 100}}),
    # POWER: 64 KiB is the base page, so only 16 MiB is a pool
    'vdsm_caps_libvirt_ibm_S822L_le.xml': (
        {0: 65536, 1: 65536, 16: 65536, 17: 65536}, {n: {16384: 0} for n in (0, 1, 16, 17)}),
    'virtmanager_kvm-aarch64.xml': (
        {0: 257581, 1: 255939},
        {n: {64: 0, 2048: 0, 32768: 0, 1048576: 0} for n in (0, 1)}),
    'virtmanager_kvm-ppc64le.xml': (
        {0: 32582, 1: 32572}, {n: {16384: 0, 16777216: 0} for n in (0, 1)}),
    'virtmanager_kvm-x86_64.xml': ({0: 31964}, {0: {2048: 0, 1048576: 0}}),
    'virttuner_caps_cascadelake_2socket.xml': (
        {0: 31881, 1: 32209}, {n: {2048: 0, 1048576: 0} for n in (0, 1)}),
}
NODE_MEMORY_KB = 48 * 1024 * 1024


def _conn(shared_fixtures, name, domcaps='virtmanager_kvm-x86_64-domcaps-latest.xml', **kw):
    return FixtureConnection.from_files(
        shared_fixtures / 'capabilities' / name,
        domcaps=shared_fixtures / 'domcaps' / domcaps, node_memory_kb=NODE_MEMORY_KB, **kw)


@pytest.mark.parametrize('name', sorted(CAPTURES))
def test_every_capture_becomes_a_valid_fleet_host(shared_fixtures, name):
    memory, pools = CAPTURES[name]
    found = discover(_conn(shared_fixtures, name), HostSettings())
    host = found.topology
    assert {c.id: c.memory_mb for c in host.cells} == memory
    assert {c.id: c.pages for c in host.cells} == pools
    assert all(not c.cpus and c.shared_cpus == {cpu.id for cpu in caps_cell.cpus}
               for c, caps_cell in zip(host.cells, found.capabilities.cells))
    [parsed] = parse_fleet({'version': 1, 'hosts': [host.to_dict()]})
    assert parsed == host


def test_resctrl_mock_pools_larger_than_memory_still_give_a_valid_host(shared_fixtures):
    found = discover(_conn(shared_fixtures, 'libvirt_vircaps-x86_64-resctrl-amd.xml'),
                     HostSettings())
    cell0 = found.topology.cell(0)
    assert cell0.pages == {2048: 4096, 1048576: 6144}
    assert cell0.memory_mb >= cell0.hugepage_mb
    parse_fleet({'version': 1, 'hosts': [found.topology.to_dict()]})


def test_sev_host_from_real_captures(shared_fixtures):
    conn = _conn(shared_fixtures, 'virttuner_caps_cascadelake_2socket.xml',
                 domcaps='virtmanager_kvm-x86_64-domcaps-amd-sev.xml')
    host = discover(conn, HostSettings()).topology
    assert (host.sev_slots, host.sev_es_slots, host.secure_boot) == (502, 7, False)
    assert host.sev_snp_supported is False         # no <launchSecurity> sev-snp
    assert 'HW_CPU_X86_AMD_SEV' in host.traits
    conn = _conn(shared_fixtures, 'virttuner_caps_cascadelake_2socket.xml',
                 domcaps='kubevirt_domcapabilities_sevsnp.xml')
    host = discover(conn, HostSettings()).topology
    assert (host.sev_slots, host.sev_es_slots, host.sev_snp_supported) == (15, 15, True)
    [parsed] = parse_fleet({'version': 1, 'hosts': [host.to_dict()]})
    assert (parsed.sev_es_slots, parsed.sev_snp_supported) == (15, True)


def test_the_option_caps_plain_sev_slots_only(shared_fixtures):
    conn = _conn(shared_fixtures, 'virttuner_caps_cascadelake_2socket.xml',
                 domcaps='virtmanager_kvm-x86_64-domcaps-amd-sev.xml')
    host = discover(conn, HostSettings(num_memory_encrypted_guests=3)).topology
    assert (host.sev_slots, host.sev_es_slots) == (3, 7)


def test_secure_boot_host_without_sev(shared_fixtures):
    host = discover(_conn(shared_fixtures, 'virtmanager_kvm-x86_64.xml'),
                    HostSettings()).topology
    assert (host.sev_slots, host.secure_boot) == (0, True)
    assert {'COMPUTE_SECURITY_UEFI_SECURE_BOOT', 'HW_CPU_HYPERTHREADING'} <= host.traits


def test_real_pf_and_vfs_whitelisted_by_pf_address(shared_fixtures):
    nodedevs = [shared_fixtures / 'nodedev' / name for name in (
        'vdsm_pci_0000_05_00_1_sriov_pf.xml', 'vdsm_pci_0000_05_10_7_sriov_vf.xml',
        'vdsm_pci_0000_00_19_0_nic_no_sriov.xml', 'vdsm_pci_0000_06_00_0_gpu_numa_mdev.xml')]
    conn = _conn(shared_fixtures, 'vdsm_caps_libvirt_multiqemu.xml', nodedevs=nodedevs)
    settings = HostSettings(device_specs=parse_device_specs(
        ['{"address": "0000:05:00.1", "physical_network": "physnet1"}',
         '{"vendor_id": "10de"}']))
    found = discover(conn, settings)
    assert len(found.pci_devices) == 4
    assert [(d.address, d.type, d.parent, d.numa_node, d.iommu_group, d.physical_network)
            for d in found.topology.pci_devices] == [
        ('0000:05:00.1', 'type-PF', None, 1, 15, 'physnet1'),
        ('0000:05:10.7', 'type-VF', '0000:05:00.1', 1, 25, 'physnet1'),
        ('0000:06:00.0', 'type-PCI', None, 0, 33, None)]


def test_free_pages_come_from_the_connection_for_the_pool_sizes():
    conn = FixtureConnection.from_files(DATA / 'caps_2cell_smt_hugepages.xml',
                                        domcaps=DATA / 'domcaps_q35_uefi_secboot.xml',
                                        free={0: {2048: 1000, 1048576: 1}, 1: {2048: 3}})
    found = discover(conn, HostSettings())
    assert ('free_pages', (0, 1), (2048, 1048576)) in conn.calls
    assert found.free_pages == {0: {2048: 1000, 1048576: 1}, 1: {2048: 3, 1048576: 0}}
    assert found.topology.name == 'fixture-host'
    assert discover(conn, HostSettings(), host_name='given').topology.name == 'given'


def _smt(domcaps):
    return FixtureConnection.from_files(DATA / 'caps_2cell_smt_hugepages.xml', domcaps=domcaps)


def test_features_are_probed_on_q35_for_x86():
    conn = _smt(DATA / 'domcaps_q35_uefi_secboot.xml')
    assert probe_virt_type(conn, 'x86_64', 'kvm')[0] == 'kvm'
    assert conn.calls[-1] == ('domain_capabilities', 'kvm', 'x86_64', 'q35')
    probe_virt_type(conn, 'ppc64le', 'qemu')
    assert conn.calls[-1] == ('domain_capabilities', 'qemu', 'ppc64le', None)


def test_emulator_without_q35_is_asked_for_its_default_machine():
    class NoQ35(FixtureConnection):
        def domain_capabilities(self, virt_type, arch, machine=None, emulator=None):
            if machine:
                raise LibvirtError('getDomainCapabilities', 'unknown machine q35')
            return super().domain_capabilities(virt_type, arch, machine, emulator)

    conn = NoQ35.from_files(DATA / 'caps_2cell_smt_hugepages.xml',
                            domcaps=DATA / 'domcaps_q35_uefi_secboot.xml')
    virt_type, domcaps = probe_virt_type(conn, 'x86_64', 'kvm')
    assert virt_type == 'kvm' and domcaps.secure_boot


def test_auto_prefers_kvm_and_falls_back_to_qemu():
    xml = (DATA / 'domcaps_q35_uefi_secboot.xml').read_text()
    both = FixtureConnection('<x/>', domcaps={'kvm': xml, 'qemu': xml})
    assert probe_virt_type(both, 'x86_64', 'auto', kvm_usable=lambda uri: True)[0] == 'kvm'
    only_qemu = FixtureConnection('<x/>', domcaps={'qemu': xml})
    assert probe_virt_type(only_qemu, 'x86_64', 'auto', lambda uri: True)[0] == 'qemu'


def test_auto_takes_qemu_when_kvm_device_is_unusable():
    xml = (DATA / 'domcaps_q35_uefi_secboot.xml').read_text()
    both = FixtureConnection('<x/>', domcaps={'kvm': xml, 'qemu': xml}, uri='qemu:///system')
    seen = []
    assert probe_virt_type(both, 'x86_64', 'auto',
                           lambda uri: seen.append(uri) or False)[0] == 'qemu'
    assert seen == ['qemu:///system']
    assert not any(call[:2] == ('domain_capabilities', 'kvm') for call in both.calls)


@pytest.mark.parametrize('uri, usable', [
    ('qemu+ssh://compute-3/system', True),      # remote: libvirt's answer is all we have
    ('qemu:///system', False),
    ('', False),
])
def test_kvm_device_check_is_local_only(tmp_path, uri, usable):
    missing = tmp_path / 'kvm'
    assert kvm_device_usable(uri, device=str(missing)) is usable
    missing.write_text('')
    assert kvm_device_usable(uri, device=str(missing)) is True


def test_unavailable_virt_type_is_a_config_error():
    conn = _smt({'qemu': DATA / 'domcaps_q35_uefi_secboot.xml'})
    with pytest.raises(InvalidConfig, match='kvm guests are not available') as caught:
        discover(conn, HostSettings(virt_type='kvm'))
    assert caught.value.option == '[libvirt] virt_type'


def test_an_unreadable_pci_device_is_skipped_not_fatal():
    odd = "<device><name>pci_0000_00_1f_3</name><capability type='pci'/></device>"
    conn = FixtureConnection(read(DATA / 'caps_2cell_smt_hugepages.xml'),
                             read(DATA / 'domcaps_q35_uefi_secboot.xml'),
                             [read(DATA / 'nodedev_nic_0000_00_19_0.xml'), odd])
    found = discover(conn, HostSettings(device_specs=parse_device_specs(['{}'])))
    assert [d.address for d in found.topology.pci_devices] == ['0000:00:19.0']
    [error] = found.unreadable_devices
    assert 'pci_0000_00_1f_3' in error and 'domain' in error
