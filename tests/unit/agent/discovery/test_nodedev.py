"""PCI node device parsing on every real capture (SR-IOV PF/VF, plain NICs, GPU)."""

import pytest

from agent.discovery.nodedev import parse_pci_device
from agent.exceptions import HostXmlError
from tests.unit.agent.fakes import read

VDSM_PF_VFS = ('0000:05:10.1', '0000:05:10.3', '0000:05:10.5', '0000:05:10.7',
               '0000:05:11.1', '0000:05:11.3', '0000:05:11.5')
MLX_PF_VFS = ('0000:82:00.3', '0000:82:00.4', '0000:82:00.5', '0000:82:00.6',
              '0000:82:00.7', '0000:82:01.0', '0000:82:01.1', '0000:82:01.2')

# file: address, vendor, product, type, parent, numa node, iommu group, members, VFs, maxCount
CAPTURES = {
    'vdsm_pci_0000_05_00_1_sriov_pf.xml': (
        '0000:05:00.1', '8086', '10c9', 'type-PF', None, 1, 15,
        ('0000:05:00.0', '0000:05:00.1'), VDSM_PF_VFS, 0),
    'vdsm_pci_0000_05_10_7_sriov_vf.xml': (
        '0000:05:10.7', '8086', '10ca', 'type-VF', '0000:05:00.1', 1, 25,
        ('0000:05:10.7',), (), 0),
    'libvirt_pci_0000_02_10_7_sriov_vf.xml': (
        '0000:02:10.7', '8086', '10ca', 'type-VF', '0000:02:00.1', 0, 31,
        ('0000:02:10.7',), (), 0),
    'nova_pci_0000_82_00_0_mlx_pf_vpd.xml': (
        '0000:82:00.0', '15b3', 'a2d6', 'type-PF', None, 1, 65, ('0000:82:00.0',),
        MLX_PF_VFS, 8),
    'nova_pci_0000_82_00_3_mlx_vf.xml': (
        '0000:82:00.3', '15b3', '101e', 'type-VF', '0000:82:00.0', 1, 99,
        ('0000:82:00.3',), (), 0),
    'libvirt_pci_0000_42_00_0_vpd_pf_maxcount.xml': (
        '0000:42:00.0', '15b3', 'a2d6', 'type-PF', None, 0, 65, ('0000:42:00.0',), (), 16),
    'vdsm_pci_0000_00_19_0_nic_no_sriov.xml': (
        '0000:00:19.0', '8086', '1502', 'type-PCI', None, None, None, (), (), 0),
    'libvirt_pci_82579LM_network_adapter.xml': (
        '0000:00:19.0', '8086', '1502', 'type-PCI', None, None, None, (), (), 0),
    'vdsm_pci_0000_06_00_0_gpu_numa_mdev.xml': (
        '0000:06:00.0', '10de', '13f2', 'type-PCI', None, 0, 33, ('0000:06:00.0',), (), 0),
}


@pytest.mark.parametrize('name', sorted(CAPTURES))
def test_every_capture(shared_fixtures, name):
    (address, vendor, product, kind, parent, numa, group, members, vfs,
     max_vfs) = CAPTURES[name]
    device = parse_pci_device(read(shared_fixtures / 'nodedev' / name))
    assert (device.address, device.vendor_id, device.product_id) == (address, vendor, product)
    assert device.type == kind
    assert device.pf_address == parent
    assert device.numa_node == numa
    assert (device.iommu_group, device.iommu_members) == (group, members)
    assert device.vf_addresses == vfs
    assert device.max_vfs == max_vfs
    assert device.name == 'pci_' + address.replace(':', '_').replace('.', '_')


def test_the_vdsm_vf_is_listed_by_its_pf(shared_fixtures):
    pf = parse_pci_device(read(shared_fixtures / 'nodedev' /
                               'vdsm_pci_0000_05_00_1_sriov_pf.xml'))
    vf = parse_pci_device(read(shared_fixtures / 'nodedev' /
                               'vdsm_pci_0000_05_10_7_sriov_vf.xml'))
    assert vf.address in pf.vf_addresses and vf.pf_address == pf.address


def test_class_and_driver_are_kept(shared_fixtures):
    device = parse_pci_device(read(shared_fixtures / 'nodedev' /
                                   'nova_pci_0000_82_00_0_mlx_pf_vpd.xml'))
    assert (device.device_class, device.driver) == ('0x020000', 'mlx5_core')


def _device(inner, name='pci_0000_00_01_0'):
    return (f"<device><name>{name}</name><capability type='pci'><domain>0</domain>"
            f"<bus>0</bus><slot>1</slot><function>0</function>{inner}</capability></device>")


IDS = "<product id='0x1234'/><vendor id='0x8086'/>"


def test_negative_numa_node_means_unknown():
    assert parse_pci_device(_device(IDS + "<numa node='-1'/>")).numa_node is None


def test_large_domain_and_bus_are_formatted_in_hex():
    text = _device(IDS).replace('<domain>0</domain>', '<domain>65535</domain>').replace(
        '<bus>0</bus>', '<bus>255</bus>').replace('<slot>1</slot>', '<slot>31</slot>')
    assert parse_pci_device(text).address == 'ffff:ff:1f.0'


@pytest.mark.parametrize('text, message', [
    ('<device><name>usb_1</name><capability type="usb_device"/></device>',
     "usb_1: no <capability type='pci'>"),
    (_device(''), 'no <vendor id> or <product id>'),
    (_device("<product id='0xzz'/><vendor id='0x8086'/>"), "product id: '0xzz'"),
    (_device(IDS).replace('<bus>0</bus>', '<bus>x</bus>'), "bus: 'x' is not an integer"),
    ('<device>', 'not well-formed'),
])
def test_malformed_devices_name_the_problem(text, message):
    with pytest.raises(HostXmlError, match=message):
        parse_pci_device(text)
