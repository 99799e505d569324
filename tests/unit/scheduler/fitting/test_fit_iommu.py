"""IOMMU groups in the fit: a device goes to one instance only with its whole group."""

import dataclasses

from scheduler.fitting import reasons
from scheduler.fitting.summary import HostSummary, RequestNeeds
from scheduler.fitting.usage import HostUsage
from scheduler.store.repository import resource_keys
from wire.topology import PciDevice

from .builders import host, request
from .helpers import assigned, rejected

PF = '0000:3b:00.0'
VF_A, VF_B, VF_C = '0000:3b:02.0', '0000:3b:02.1', '0000:3b:02.2'
HOST_NIC = '0000:00:19.0'       # the host's own NIC: in no device list, only in a group


def _vf(address, group, members=()):
    return PciDevice(address, '8086', '154c', 'type-VF', PF, 0, 'physnet1', group,
                     tuple(members))


def grouped_host(*vfs):
    topology = host("h1").cells(1, cores=4, shared_cores=4).build()
    pf = PciDevice(PF, '8086', '1572', 'type-PF', None, 0, 'physnet1', 10, (PF,))
    return dataclasses.replace(topology, pci_devices=(pf,) + vfs)


SHARED_GROUP = grouped_host(_vf(VF_A, 7, (VF_A, VF_B)), _vf(VF_B, 7, (VF_A, VF_B)))


def _quick(topology, spec, usage):
    return RequestNeeds.of(spec).quick_reject(HostSummary.of(topology, usage))


def test_two_vfs_of_one_group_never_go_to_two_instances():
    spec = request(2, 1024).port().build()
    first = assigned(SHARED_GROUP, spec)
    assert [(d.address, d.iommu_group) for d in first.pci_devices] == [(VF_A, 7)]
    usage = HostUsage.of_host(SHARED_GROUP).consume(first)
    second = rejected(SHARED_GROUP, spec, usage)
    assert second.reason == reasons.PCI_IOMMU_GROUP
    assert second.detail == ('port:0: 1 free VF on physnet1 devices share an IOMMU group with '
                             'a device kept by the host or held by another instance, needs 1')
    assert _quick(SHARED_GROUP, spec, usage).reason == reasons.PCI_IOMMU_GROUP


def test_one_instance_may_take_the_whole_group():
    result = assigned(SHARED_GROUP, request(2, 1024).port().port().build())
    assert sorted(d.address for d in result.pci_devices) == [VF_A, VF_B]
    assert [k for k in resource_keys(result) if k[0] == 'iommu_group'] == [('iommu_group', '7')]


def test_a_vf_whose_group_holds_a_host_device_is_not_assigned():
    topology = grouped_host(_vf(VF_A, 7, (HOST_NIC, VF_A)), _vf(VF_C, 9, (VF_C,)))
    result = assigned(topology, request(2, 1024).port().build())
    assert [d.address for d in result.pci_devices] == [VF_C]
    alone = grouped_host(_vf(VF_A, 7, (HOST_NIC, VF_A)))
    refused = rejected(alone, request(2, 1024).port().build())
    assert refused.reason == reasons.PCI_IOMMU_GROUP
    assert _quick(alone, request(2, 1024).port().build(), HostUsage()).reason == \
        reasons.PCI_IOMMU_GROUP


def test_devices_of_one_group_number_are_one_group_without_member_lists():
    topology = grouped_host(_vf(VF_A, 7), _vf(VF_B, 7))
    usage = HostUsage.of_host(topology).consume(assigned(topology, request().port().build()))
    assert rejected(topology, request().port().build(), usage).reason == \
        reasons.PCI_IOMMU_GROUP


def test_devices_without_a_group_are_unaffected():
    topology = grouped_host(_vf(VF_A, None), _vf(VF_B, None))
    usage = HostUsage.of_host(topology).consume(assigned(topology, request().port().build()))
    second = assigned(topology, request().port().build(), usage)
    assert [d.address for d in second.pci_devices] == [VF_B]
    assert second.pci_devices[0].iommu_group is None
    assert [k for k in resource_keys(second) if k[0] == 'iommu_group'] == []
