"""Building the wire HostTopology from parsed libvirt documents and options."""

import dataclasses

import pytest

from agent.discovery import pci_spec
from agent.discovery import traits as host_traits
from agent.discovery.capabilities import parse_capabilities
from agent.discovery.domcaps import DomainCapabilities, parse_domain_capabilities
from agent.discovery.nodedev import parse_pci_device
from agent.discovery.opts import HostSettings, ReservedPages
from agent.discovery.topology import build_topology, cell_memory_kb
from agent.exceptions import InvalidConfig
from agent.network import Bridge, HostNetworks
from tests.unit.agent.fakes import DATA, read
from wire.cpuset import parse_cpuset
from wire.files import parse_fleet

SMT_HOST = parse_capabilities(read(DATA / 'caps_2cell_smt_hugepages.xml'))
SECBOOT = parse_domain_capabilities(read(DATA / 'domcaps_q35_uefi_secboot.xml'))
DEVICES = tuple(parse_pci_device(read(DATA / name)) for name in (
    'nodedev_pf_0000_81_00_0.xml', 'nodedev_vf_0000_81_10_0.xml',
    'nodedev_vf_0000_81_10_2.xml', 'nodedev_nic_0000_00_19_0.xml'))


def _build(caps=SMT_HOST, devices=(), domcaps=SECBOOT, node_memory_kb=None, vif_shaping=False,
           **settings):
    return build_topology('host-a', caps, devices, domcaps, HostSettings(**settings),
                          node_memory_kb=node_memory_kb, vif_shaping=vif_shaping)


def _specs(*entries):
    return pci_spec.parse_device_specs(list(entries))


def test_without_cpu_sets_every_cpu_is_shared_and_none_dedicated():
    host = _build()
    assert [(c.id, c.cpus, c.shared_cpus) for c in host.cells] == [
        (0, frozenset(), parse_cpuset('0-3,8-11')), (1, frozenset(), parse_cpuset('4-7,12-15'))]


def test_dedicated_and_shared_sets_are_split_by_cell():
    host = _build(dedicated_set=parse_cpuset('2-7,10-15'), shared_set=parse_cpuset('0,8'))
    assert host.cell(0).cpus == {2, 3, 10, 11} and host.cell(0).shared_cpus == {0, 8}
    assert host.cell(1).cpus == parse_cpuset('4-7,12-15') and host.cell(1).shared_cpus == set()
    # CPUs 1 and 9 are in neither set: not for guests
    assert not ({1, 9} & (host.cell(0).cpus | host.cell(0).shared_cpus))


def test_siblings_are_told_among_guest_cpus_only():
    host = _build(dedicated_set=parse_cpuset('2-7,10-15'), shared_set=parse_cpuset('0,8'))
    # 1 and 9 are host-only: their pair is gone; 0 and 8 are both shared: kept
    assert host.cell(0).siblings == (frozenset({0, 8}), frozenset({2, 10}),
                                     frozenset({3, 11}))
    host = _build(dedicated_set=parse_cpuset('0-7'))
    assert host.cell(0).siblings == () and host.cell(0).sibling_set(0) == {0}


def test_only_dedicated_set_means_no_shared_cpus():
    host = _build(dedicated_set=parse_cpuset('0-15'))
    assert all(not cell.shared_cpus for cell in host.cells)


def test_siblings_memory_and_pools_of_the_smt_host():
    host = _build()
    cell0, cell1 = host.cells
    assert cell0.siblings == tuple(frozenset({n, n + 8}) for n in range(4))
    assert cell1.sibling_set(13) == {5, 13}
    assert (cell0.memory_mb, cell1.memory_mb) == (16384, 16384)
    assert cell0.pages == {2048: 1024, 1048576: 2}
    assert cell1.pages == {2048: 512, 1048576: 0}
    assert (cell0.reserved_memory_mb, cell1.reserved_memory_mb) == (256, 256)
    assert cell0.small_page_mb == 16384 - 2048 - 2048 - 256


@pytest.mark.parametrize('dedicated, shared, option, rule', [
    ('0-16', None, 'cpu_dedicated_set', 'CPUs 16 are not online'),
    (None, '20-21', 'cpu_shared_set', 'CPUs 20-21 are not online'),
    ('0-3', '3-4', 'cpu_shared_set', 'CPUs 3 are also in cpu_dedicated_set'),
])
def test_cpu_sets_that_contradict_the_host_are_refused(dedicated, shared, option, rule):
    with pytest.raises(InvalidConfig, match=rule) as caught:
        _build(dedicated_set=dedicated and parse_cpuset(dedicated),
               shared_set=shared and parse_cpuset(shared))
    assert caught.value.option == f"[compute] {option}"


@pytest.mark.parametrize('reserved, expected', [
    (0, (0, 0)), (512, (256, 256)), (513, (257, 256)), (1, (1, 0)),
])
def test_reserved_host_memory_is_spread_over_cells(reserved, expected):
    host = _build(reserved_host_memory_mb=reserved)
    assert tuple(c.reserved_memory_mb for c in host.cells) == expected


def test_reserved_huge_pages_leave_the_pool_and_stay_out_of_small_pages():
    plain = _build()
    host = _build(reserved_huge_pages=(ReservedPages(0, 2048, 64), ReservedPages(0, 1048576, 1)))
    cell0 = host.cell(0)
    assert cell0.pages == {2048: 960, 1048576: 1}
    assert cell0.reserved_memory_mb == 256 + 128 + 1024
    assert cell0.small_page_mb == plain.cell(0).small_page_mb
    assert host.cell(1) == plain.cell(1)


@pytest.mark.parametrize('entries, rule', [
    ((ReservedPages(2, 2048, 1),), 'node 2 is not a NUMA cell of this host'),
    ((ReservedPages(0, 4, 1),), 'node 0 has no 4 KiB hugepage pool'),
    ((ReservedPages(1, 2048, 513),), 'count 513 is more than the 512 pages'),
    ((ReservedPages(0, 2048, 1), ReservedPages(0, 2048, 2)), 'reserved twice'),
])
def test_bad_reserved_huge_pages_are_refused(entries, rule):
    with pytest.raises(InvalidConfig, match=rule) as caught:
        _build(reserved_huge_pages=entries)
    assert caught.value.option.startswith('[DEFAULT] reserved_huge_pages[')


def test_pci_devices_are_reported_only_when_whitelisted():
    assert _build(devices=DEVICES).pci_devices == ()


def test_pf_address_whitelists_the_pf_and_its_vfs_with_the_physnet():
    host = _build(devices=DEVICES, device_specs=_specs(
        '{"address": "0000:81:00.0", "physical_network": "physnet1"}'))
    assert [(d.address, d.type, d.parent, d.physical_network, d.numa_node, d.iommu_group)
            for d in host.pci_devices] == [
        ('0000:81:00.0', 'type-PF', None, 'physnet1', 1, 40),
        ('0000:81:10.0', 'type-VF', '0000:81:00.0', 'physnet1', 1, 41),
        ('0000:81:10.2', 'type-VF', '0000:81:00.0', 'physnet1', 1, 42)]


def test_vendor_product_spec_picks_the_vfs_only():
    host = _build(devices=DEVICES, device_specs=_specs(
        '{"vendor_id": "8086", "product_id": "10ed", "physical_network": "sriov"}'))
    assert [d.address for d in host.pci_devices] == ['0000:81:10.0', '0000:81:10.2']
    assert {d.vendor_id + ':' + d.product_id for d in host.pci_devices} == {'8086:10ed'}


def test_first_matching_spec_gives_the_physnet():
    host = _build(devices=DEVICES, device_specs=_specs(
        '{"address": "0000:81:10.2", "physical_network": "first"}',
        '{"vendor_id": "8086", "physical_network": "second"}'))
    assert {d.address: d.physical_network for d in host.pci_devices} == {
        '0000:81:00.0': 'second', '0000:81:10.0': 'second', '0000:81:10.2': 'first',
        '0000:00:19.0': 'second'}


def test_secure_boot_and_traits_from_caps_and_domcaps():
    host = _build()
    assert host.secure_boot is True and host.sev_slots == 0
    assert {'HW_CPU_X86_AVX2', 'HW_CPU_X86_VMX', 'HW_CPU_X86_SSE42', 'HW_CPU_X86_AESNI',
            'HW_CPU_HYPERTHREADING', 'HW_ARCH_X86_64',
            'COMPUTE_SECURITY_UEFI_SECURE_BOOT', 'COMPUTE_SECURITY_STATELESS_FIRMWARE'
            } == host.traits


def test_a_host_that_can_shape_nics_reports_the_trait():
    assert 'CUSTOM_KVMFLEET_VIF_BANDWIDTH' in _build(vif_shaping=True).traits
    assert 'CUSTOM_KVMFLEET_VIF_BANDWIDTH' not in _build().traits


def test_without_domain_capabilities_nothing_is_claimed():
    host = _build(domcaps=None)
    assert (host.secure_boot, host.sev_slots) == (False, 0)
    assert 'COMPUTE_SECURITY_UEFI_SECURE_BOOT' not in host.traits
    assert 'COMPUTE_SECURITY_STATELESS_FIRMWARE' not in host.traits


def _sev(max_guests):
    limit = f"<maxGuests>{max_guests}</maxGuests>" if max_guests is not None else ''
    return parse_domain_capabilities(
        f"<domainCapabilities><domain>kvm</domain><features><sev supported='yes'>"
        f"{limit}</sev></features></domainCapabilities>")


@pytest.mark.parametrize('reported, option, slots', [
    (502, None, 502), (502, 10, 10), (15, 100, 15), (None, 7, 7), (None, None, 0),
    (0, None, 0),
])
def test_sev_slots(reported, option, slots):
    host = _build(domcaps=_sev(reported), num_memory_encrypted_guests=option)
    assert host.sev_slots == slots
    assert ('HW_CPU_X86_AMD_SEV' in host.traits) is (slots > 0)


def test_memory_falls_back_to_pages_then_node_total():
    no_memory = dataclasses.replace(SMT_HOST, cells=tuple(
        dataclasses.replace(c, memory_kb=None) for c in SMT_HOST.cells))
    assert cell_memory_kb(no_memory) == {0: 16777216, 1: 16777216}
    bare = dataclasses.replace(SMT_HOST, cells=tuple(
        dataclasses.replace(c, memory_kb=None, pages={}) for c in SMT_HOST.cells))
    assert cell_memory_kb(bare, node_memory_kb=8 * 1024 * 1024) == {0: 4194304, 1: 4194304}
    assert cell_memory_kb(bare) == {0: 0, 1: 0}


def test_memory_is_never_below_the_pools():
    small = dataclasses.replace(SMT_HOST, cells=tuple(
        dataclasses.replace(c, memory_kb=1024) for c in SMT_HOST.cells))
    host = _build(caps=small)
    assert all(cell.hugepage_mb <= cell.memory_mb for cell in host.cells)


def test_topology_round_trips_through_the_fleet_format():
    host = _build(devices=DEVICES, dedicated_set=parse_cpuset('2-7,10-15'),
                  shared_set=parse_cpuset('0,8'),
                  device_specs=_specs('{"address": "*:81:*.*", "physical_network": "p"}'))
    [parsed] = parse_fleet({'version': 1, 'hosts': [host.to_dict()]})
    assert parsed == host


@pytest.mark.parametrize('models, versions, expected', [
    (('tpm-tis', 'tpm-crb'), ('1.2', '2.0'),
     {'COMPUTE_SECURITY_TPM_1_2', 'COMPUTE_SECURITY_TPM_2_0', 'COMPUTE_SECURITY_TPM_TIS',
      'COMPUTE_SECURITY_TPM_CRB'}),
    (('tpm-crb',), ('2.0',), {'COMPUTE_SECURITY_TPM_2_0', 'COMPUTE_SECURITY_TPM_CRB'}),
    ((), (), set()),
])
def test_vtpm_traits_from_domcaps(models, versions, expected):
    domcaps = DomainCapabilities(virt_type='kvm', tpm_models=models, tpm_versions=versions)
    assert host_traits.tpm_traits(domcaps) == expected


def test_bridged_networks_are_reported_as_traits():
    networks = HostNetworks({'ext': Bridge('br-ex', 'linux'), 'tenant': Bridge('br-int', 'ovs')})
    host = _build(networks=networks)
    assert {'CUSTOM_PHYSNET_EXT', 'CUSTOM_PHYSNET_TENANT',
            'CUSTOM_PHYSNET_TENANT_VLAN'} <= host.traits
    assert not any(t.startswith('CUSTOM_PHYSNET') for t in _build().traits)


def test_each_cell_reports_its_socket_from_a_real_two_socket_capture(shared_fixtures):
    """Cascade Lake, 2 sockets x 24 cores x 2 threads, one NUMA node per socket."""
    caps = parse_capabilities(read(shared_fixtures / 'capabilities'
                                   / 'virttuner_caps_cascadelake_2socket.xml'))
    host = build_topology('h', caps, (), None, HostSettings(), node_memory_kb=None)
    assert [(cell.id, cell.socket) for cell in host.cells] == [(0, 0), (1, 1)]
    [parsed] = parse_fleet({'version': 1, 'hosts': [host.to_dict()]})
    assert [c['socket'] for c in host.to_dict()['cells']] == [0, 1] and parsed == host
