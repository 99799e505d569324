"""The ``socket`` PCI NUMA affinity policy (Nova's meaning): the device is on a cell of
the same CPU socket as one of the guest's host cells; the host must report sockets."""

import pytest

from scheduler.fitting import reasons
from scheduler.fitting.usage import HostUsage

from .builders import host, request
from .helpers import assigned, rejected

GPU, OLD_GPU = '0000:05:00.0', '0000:06:00.0'
PF = '0000:01:00.0'


def two_socket_host(*sockets):
    """Four cells of two dedicated pCPUs (and one shared): cells 0, 1 on socket 0,
    cells 2, 3 on socket 1; the GPU and the PF on cell 1, an old GPU without NUMA
    information."""
    return (host().cells(4, cores=2, shared_cores=1).sockets(*(sockets or (0, 0, 1, 1)))
            .device(GPU, numa_node=1).device(OLD_GPU, product='1db5', numa_node=None)
            .pf(PF, 1, 'physnet1', vfs=2).build())


HOST = two_socket_host()


def full(*cells):
    return HostUsage(pinned=frozenset().union(*(HOST.cells[c].cpus for c in cells)))


def gpu(cells=1, policy='socket'):
    return request(2 * cells, 1024 * cells).numa(cells).dedicated().alias(
        'gpu', policy=policy).build()


@pytest.mark.parametrize('spec, usage, policy, guest_cells', [
    # the device's own cell is full: socket takes its neighbour, required does not
    (1, (1,), 'socket', {0}),
    (1, (1,), 'required', None),
    (1, (1,), 'preferred', {0}),
    # the whole socket of the device is full: only preferred goes elsewhere
    (1, (0, 1), 'socket', None),
    (1, (0, 1), 'legacy', None),
    (1, (0, 1), 'preferred', {2}),
    # two guest cells: one on the device's socket is enough
    (2, (1,), 'socket', {0, 2}),
    (2, (0, 1), 'socket', None),
    (2, (), 'socket', {0, 1}),
])
def test_socket_policy_table(spec, usage, policy, guest_cells):
    request_spec = gpu(spec, policy)
    if guest_cells is None:
        result = rejected(HOST, request_spec, full(*usage))
        assert result.reason == reasons.PCI_NUMA_AFFINITY
    else:
        result = assigned(HOST, request_spec, full(*usage))
        assert {c.host_cell for c in result.cells} == guest_cells
        assert result.pci_devices[0].address == GPU


def test_rejection_names_the_cells_of_the_guest_sockets():
    result = rejected(HOST, gpu(), full(0, 1))
    assert result.detail == ("alias:gpu: 1 free 10de:1db4 devices, none in host cells [2, 3] "
                             "as policy socket requires (0 of 1 found)")


def test_device_without_numa_information_does_not_qualify():
    spec = request(2, 1024).dedicated().alias('old', 1, '10de', '1db5', policy='socket').build()
    assert rejected(HOST, spec).reason == reasons.PCI_NUMA_AFFINITY


def test_port_takes_the_flavor_policy():
    spec = request(2, 1024).dedicated().port('physnet1').pci_policy('socket').build()
    assert assigned(HOST, spec, full(1)).cells[0].host_cell == 0
    assert rejected(HOST, spec, full(0, 1)).reason == reasons.PCI_NUMA_AFFINITY


@pytest.mark.parametrize('sockets, unknown', [
    ((None, None, None, None), '[0, 1, 2, 3]'),
    ((0, 0, None, 1), '[2]'),
])
def test_host_without_socket_information_refuses(sockets, unknown):
    result = rejected(two_socket_host(*sockets), gpu())
    assert (result.reason, result.shortfall) == (reasons.PCI_NO_SOCKET_INFO, 1)
    assert result.detail == ("alias:gpu: policy socket needs the CPU socket of every host "
                             f"cell; cells {unknown} report none")


def test_other_policies_do_not_need_sockets():
    assert assigned(two_socket_host(None, None, None, None), gpu(policy='required'))


def test_guest_without_numa_topology_takes_any_device_whatever_the_sockets():
    spec = request(1, 512).alias('gpu', policy='socket').build()
    for topology in (HOST, two_socket_host(None, None, None, None)):
        assert assigned(topology, spec).pci_devices[0].address == GPU
