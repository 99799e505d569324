"""Discovery reports every member of each device's IOMMU group, on real captures."""

import dataclasses

import pytest

from agent.discovery import pci_spec
from agent.discovery.nodedev import parse_pci_device
from agent.discovery.opts import HostSettings
from agent.discovery.topology import build_topology
from agent.verify import PCI_IOMMU_GROUP_SHARED, verify
from scheduler.fitting import reasons
from scheduler.fitting.fit import fit
from scheduler.fitting.policy import FitPolicy
from scheduler.fitting.reasons import Rejection
from scheduler.fitting.usage import HostUsage
from tests.unit.agent.discovery.test_topology import SECBOOT, SMT_HOST
from tests.unit.agent.fakes import read
from tests.unit.scheduler.fitting.builders import request
from wire.assignment import Assignment, PciAssignment
from wire.topology import HostTopology

CAPTURES = ('vdsm_pci_0000_05_00_1_sriov_pf.xml', 'vdsm_pci_0000_05_10_7_sriov_vf.xml',
            'nova_pci_0000_82_00_0_mlx_pf_vpd.xml', 'nova_pci_0000_82_00_3_mlx_vf.xml',
            'vdsm_pci_0000_06_00_0_gpu_numa_mdev.xml')
INTEL = '{"vendor_id": "8086", "physical_network": "physnet1"}'


@pytest.fixture(scope='module')
def devices(shared_fixtures):
    return tuple(parse_pci_device(read(shared_fixtures / 'nodedev' / name))
                 for name in CAPTURES)


def _host(devices, *specs):
    settings = HostSettings(device_specs=pci_spec.parse_device_specs(list(specs)))
    return build_topology('host-a', SMT_HOST, devices, SECBOOT, settings)


def test_members_are_reported_whitelisted_or_not(devices):
    host = _host(devices, INTEL)
    members = {d.address: d.iommu_group_members for d in host.pci_devices}
    # vdsm's PF 05:00.1 shares group 15 with 05:00.0, a function nobody whitelisted
    assert members == {'0000:05:00.1': ('0000:05:00.0', '0000:05:00.1'),
                       '0000:05:10.7': ('0000:05:10.7',)}
    assert HostTopology.from_dict(host.to_dict()) == host   # consistent on real data


def test_a_pf_sharing_its_group_with_a_host_function_is_not_assigned(devices):
    host = _host(devices, INTEL)
    pf_port = request(2, 1024).port('physnet1', 'direct-physical').build()
    refused = fit(host, HostUsage(), pf_port, FitPolicy(), 'vm-1')
    assert isinstance(refused, Rejection) and refused.reason == reasons.PCI_IOMMU_GROUP
    vf_port = fit(host, HostUsage(), request(2, 1024).port('physnet1').build(), FitPolicy(),
                  'vm-1')
    assert [d.address for d in vf_port.pci_devices] == ['0000:05:10.7']
    assert verify(host, {}, [], vf_port) == []


def test_verify_refuses_the_pf_for_the_same_reason(devices):
    host = _host(devices, INTEL)
    wanted = Assignment(host='host-a', instance='vm-1', vcpus=1, memory_mb=512, pci_devices=(
        PciAssignment('0000:05:00.1', 1, 'port:0', 'physnet1', 15),))
    violations = verify(host, {}, [], wanted)
    assert [v.reason for v in violations] == [PCI_IOMMU_GROUP_SHARED]
    assert violations[0].detail == (
        '0000:05:00.1: IOMMU group 15 also holds 0000:05:00.0 (kept by the host or held by '
        'another instance)')


def test_bridges_are_left_out_of_the_members(devices):
    pf = devices[0]
    bridge = dataclasses.replace(pf, address='0000:05:00.0', device_class='0x060400',
                                 vendor_id='10b5',
                                 vf_addresses=(), sriov_capable=False, iommu_members=())
    host = _host(devices + (bridge,), INTEL)
    assert host.pci_devices[0].address == '0000:05:00.1'
    assert host.pci_devices[0].iommu_group_members == ('0000:05:00.1',)
