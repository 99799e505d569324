"""PCI rules: aliases, SR-IOV ports, PF/VF exclusivity, NUMA affinity policies."""

import pytest

from scheduler.fitting import reasons
from scheduler.fitting.usage import HostUsage

from .builders import host, request
from .helpers import assigned, rejected

PF0, PF1 = '0000:01:00.0', '0000:81:00.0'
GPU, OLD_GPU = '0000:05:00.0', '0000:06:00.0'


def pci_host():
    return (host().cells(2, cores=4, shared_cores=2)
            .pf(PF0, 0, 'physnet1', vfs=2).pf(PF1, 1, 'physnet2', vfs=2)
            .device(GPU, numa_node=1).device(OLD_GPU, product='1db5', numa_node=None).build())


PCI = pci_host()
CELL1_FULL = HostUsage(pinned=PCI.cells[1].cpus)


def test_direct_port_gets_a_vf_on_its_physnet():
    result = assigned(PCI, request(2, 1024).port('physnet2').build())
    (device,) = result.pci_devices
    assert (device.address, device.host_cell, device.request, device.physical_network) == (
        f"{PF1}.v0", 1, 'port:0', 'physnet2')


def test_ports_are_labelled_by_their_index_and_normal_ports_take_nothing():
    result = assigned(PCI, request(2, 1024).port('physnet1', 'normal').port('physnet1').build())
    assert [d.request for d in result.pci_devices] == ['port:1']


def test_port_on_unknown_physnet():
    result = rejected(PCI, request(2, 1024).port('physnet3').build())
    assert result.reason == reasons.PCI_NO_DEVICE
    assert result.detail == "port:0: 0 free VF on physnet3 devices, needs 1"


def test_alias_count_beyond_the_free_devices():
    result = rejected(PCI, request(2, 1024).alias('gpu', 2).build())
    assert (result.reason, result.shortfall) == (reasons.PCI_NO_DEVICE, 1)
    assert result.detail == "alias:gpu: 1 free 10de:1db4 devices, needs 2"


def test_vf_never_given_while_its_pf_is_used():
    usage = HostUsage(pci_used=frozenset({PF0}))
    assert rejected(PCI, request(1, 512).port('physnet1').build(), usage).reason == (
        reasons.PCI_NO_DEVICE)


def test_pf_never_given_while_one_of_its_vfs_is_used():
    usage = HostUsage(pci_used=frozenset({f"{PF0}.v1"}))
    spec = request(1, 512).alias('nic', 1, '8086', '1572', 'type-PF').build()
    assert [d.address for d in assigned(PCI, spec, usage).pci_devices] == [PF1]
    both = request(1, 512).alias('nic', 2, '8086', '1572', 'type-PF').build()
    assert rejected(PCI, both, usage).reason == reasons.PCI_NO_DEVICE


def test_one_request_never_takes_a_pf_and_its_vf_together():
    spec = (request(1, 512).port('physnet1')
            .alias('nic', 2, '8086', '1572', 'type-PF').build())
    assert rejected(PCI, spec).reason == reasons.PCI_NO_DEVICE


def test_vfs_are_packed_onto_a_pf_already_in_use():
    two_pfs = host().cells(1, cores=2, shared_cores=2).pf(PF0, 0, vfs=2).pf(PF1, 0, vfs=2).build()
    usage = HostUsage(pci_used=frozenset({f"{PF1}.v0"}))
    result = assigned(two_pfs, request(1, 512).port().build(), usage)
    assert [d.address for d in result.pci_devices] == [f"{PF1}.v1"]


def test_guest_without_numa_topology_takes_any_device():
    result = assigned(PCI, request(1, 512).alias('gpu').build())
    assert [(d.address, d.host_cell, d.request) for d in result.pci_devices] == [
        (GPU, 1, 'alias:gpu')]


@pytest.mark.parametrize('policy', ['required', 'legacy', 'preferred'])
def test_numa_guest_goes_to_the_cell_of_its_device(policy):
    spec = request(2, 1024).dedicated().alias('gpu', policy=policy).build()
    result = assigned(PCI, spec)
    assert result.cells[0].host_cell == 1
    assert result.pci_devices[0].host_cell == 1


@pytest.mark.parametrize('policy, reason', [
    ('required', reasons.PCI_NUMA_AFFINITY),
    ('legacy', reasons.PCI_NUMA_AFFINITY),
    ('preferred', None),             # falls back to a device on another cell
])
def test_affinity_policy_when_the_device_cell_is_full(policy, reason):
    spec = request(2, 1024).dedicated().alias('gpu', policy=policy).build()
    result = assigned(PCI, spec, CELL1_FULL) if reason is None else rejected(
        PCI, spec, CELL1_FULL)
    if reason is None:
        assert (result.cells[0].host_cell, result.pci_devices[0].address) == (0, GPU)
    else:
        assert result.reason == reason
        assert 'host cells [0]' in result.detail


@pytest.mark.parametrize('policy, fits', [
    ('required', False), ('legacy', True), ('preferred', True)])
def test_device_without_numa_information(policy, fits):
    spec = request(2, 1024).dedicated().alias('old', 1, '10de', '1db5', policy=policy).build()
    result = assigned(PCI, spec) if fits else rejected(PCI, spec)
    if fits:
        assert result.pci_devices[0].address == OLD_GPU


def test_flavor_policy_overrides_the_alias_policy():
    spec = (request(2, 1024).dedicated().alias('old', 1, '10de', '1db5', policy='legacy')
            .pci_policy('required').build())
    assert rejected(PCI, spec).reason == reasons.PCI_NUMA_AFFINITY


def test_multi_cell_guest_accepts_a_device_on_any_of_its_cells():
    spec = request(4, 2048).numa(2).dedicated().alias('gpu', policy='required').build()
    result = assigned(PCI, spec)
    assert result.pci_devices[0].host_cell in {c.host_cell for c in result.cells}


def test_required_port_affinity_uses_the_flavor_policy():
    spec = request(2, 1024).dedicated().port('physnet2').pci_policy('required').build()
    result = assigned(PCI, spec)
    assert result.cells[0].host_cell == 1
    assert rejected(PCI, spec, CELL1_FULL).reason == reasons.PCI_NUMA_AFFINITY


def test_consumed_devices_are_used():
    result = assigned(PCI, request(1, 512).port('physnet1').alias('gpu').build())
    usage = HostUsage().consume(result)
    assert usage.pci_used == {f"{PF0}.v0", GPU}
    again = assigned(PCI, request(1, 512).port('physnet1').build(), usage)
    assert [d.address for d in again.pci_devices] == [f"{PF0}.v1"]
