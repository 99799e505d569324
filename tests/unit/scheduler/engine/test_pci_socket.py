"""End to end through the engine: hosts from the fleet format with and without sockets,
a guest asking ``hw:pci_numa_affinity_policy=socket``."""

from scheduler.engine.fleet import FleetView
from tests.unit.scheduler.helpers import engine, request
from wire.files import parse_fleet

GPU = '0000:05:00.0'


def _host(name, sockets, cell1_memory_mb=1024):
    """Two cells of 4 pCPUs; the GPU on cell 1, whose memory is too small for the guest."""
    cells = [{'id': index, 'cpus': [4 * index + c for c in range(4)], 'memory_mb': memory}
             | ({} if socket is None else {'socket': socket})
             for index, (socket, memory) in enumerate(zip(sockets, (16384, cell1_memory_mb)))]
    return {'name': name, 'cells': cells,
            'pci_devices': [{'address': GPU, 'vendor_id': '10de', 'product_id': '1db4',
                             'numa_node': 1}]}


def _fleet(*hosts):
    return FleetView(parse_fleet({'version': 1, 'hosts': list(hosts)}))


def _spec(policy='socket'):
    return request(2, 4096).dedicated().alias('gpu').pci_policy(policy).build()


def test_the_guest_goes_to_the_host_whose_device_shares_its_socket():
    fleet = _fleet(_host('apart', (0, 1)), _host('unknown', (None, None)),
                   _host('together', (0, 0)))
    placement = engine().place(_spec(), fleet, ['vm'])
    [assignment] = placement.assignments
    assert assignment.host == 'together'
    assert [c.host_cell for c in assignment.cells] == [0]
    assert [(d.address, d.host_cell) for d in assignment.pci_devices] == [(GPU, 1)]


def test_required_does_not_cross_cells_of_one_socket():
    placement = engine().place(_spec('required'), _fleet(_host('together', (0, 0))), ['vm'])
    assert not placement.placed
    assert placement.explanation.reasons == {'PCI_NUMA_AFFINITY': 1}


def test_explain_names_the_hosts_without_socket_information():
    explanation = engine().explain(_spec(), _fleet(_host('apart', (0, 1)),
                                                   _host('unknown', (0, None))))
    assert explanation.fits == 0
    assert explanation.reasons == {'PCI_NUMA_AFFINITY': 1, 'PCI_NO_SOCKET_INFO': 1}
    texts = {miss.reason: miss.text for miss in explanation.nearest}
    assert texts['PCI_NO_SOCKET_INFO'] == (
        'unknown: alias:gpu: policy socket needs the CPU socket of every host cell; '
        'cells [1] report none')
