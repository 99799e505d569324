"""Fuzzing the consistency rules: any mutation of a good host parses or is InvalidInput.

Values are well typed and small (types, huge ranges and counts are the field
parsers' business): what is fuzzed is how fields relate, so no mix of them may
raise anything but InvalidInput, and a host that parses holds together.
"""

import copy

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.wire.test_consistency import HOST, ONE_CELL, _running
from wire.errors import InvalidInput
from wire.topology import HostTopology

ADDRESSES = ('0000:3b:00.0', '0000:3b:02.0', '0000:3b:02.1', '0000:3B:02.0', '3b:02.0')
CPUS = st.lists(st.integers(0, 20), max_size=6)
ADDRESS = st.sampled_from(ADDRESSES)
# Well-typed values for each place: the field parsers (and their fuzzing) own the types.
CELL_FIELDS = {'cpus': CPUS, 'shared_cpus': CPUS, 'siblings': st.lists(CPUS, max_size=3),
               'pages': st.dictionaries(st.sampled_from(('2048', '1048576', '3000', '8')),
                                        st.integers(0, 20000), max_size=2),
               'memory_mb': st.integers(0, 40000), 'id': st.integers(0, 3)}
DEVICE_FIELDS = {'type': st.sampled_from(('type-PF', 'type-VF', 'type-PCI')),
                 'parent': st.one_of(st.none(), ADDRESS), 'address': ADDRESS,
                 'numa_node': st.one_of(st.none(), st.integers(0, 3)),
                 'iommu_group': st.one_of(st.none(), st.integers(10, 12)),
                 'iommu_group_members': st.lists(ADDRESS, max_size=3)}
PLACED_FIELDS = {'host_cell': st.integers(0, 2), 'page_size_kb': st.sampled_from((4, 2048, 3)),
                 'memory_mb': st.integers(1, 4096),
                 'pinning': st.dictionaries(st.sampled_from(('0', '1')), st.integers(0, 20),
                                            max_size=2),
                 'reserved_pcpus': CPUS, 'shared_cpus': CPUS}
ASSIGNMENT_FIELDS = {'host': st.sampled_from(('h1', 'h2')), 'shared_cpus': CPUS,
                     'emulator_pcpus': CPUS,
                     'pci_devices': st.lists(st.builds(
                         lambda a: {'address': a, 'host_cell': 0, 'request': 'port:0'},
                         ADDRESS), max_size=2)}


def _base():
    host = copy.deepcopy(HOST)
    host['instances'] = [_running('a'), _running('b', pci_devices=[], cells=ONE_CELL)]
    return host


@st.composite
def mutated_hosts(draw):
    host = _base()
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(('cells', 'pci_devices', 'instances', 'placed')))
        if kind == 'cells':
            target, fields = draw(st.sampled_from(host['cells'])), CELL_FIELDS
        elif kind == 'pci_devices':
            target, fields = draw(st.sampled_from(host['pci_devices'])), DEVICE_FIELDS
        elif kind == 'instances':
            target = draw(st.sampled_from(host['instances']))['assignment']
            fields = ASSIGNMENT_FIELDS
        else:
            target = draw(st.sampled_from(host['instances']))['assignment']['cells'][0]
            fields = PLACED_FIELDS
        key = draw(st.sampled_from(sorted(fields)))
        target[key] = draw(fields[key])
    return host


@settings(max_examples=400, deadline=1000)
@given(mutated_hosts())
def test_any_mutation_parses_or_is_invalid_input(data):
    try:
        host = HostTopology.from_dict(data)
    except InvalidInput as exc:
        assert exc.errors and all(e.field.startswith('host') for e in exc.errors)
        return
    _holds_together(host)
    assert HostTopology.from_dict(host.to_dict()) == host


def _holds_together(host):
    """The rules, restated plainly on what parsed."""
    sets = [s for cell in host.cells for s in (cell.cpus, cell.shared_cpus)]
    assert sum(map(len, sets)) == len(frozenset().union(*sets))
    types = {d.address: d.type for d in host.pci_devices}
    assert len(types) == len(host.pci_devices)
    cells = {cell.id: cell for cell in host.cells}
    for device in host.pci_devices:
        assert device.address == device.address.lower() and len(device.address) == 12
        assert device.numa_node is None or device.numa_node in cells
        assert (device.parent is not None) == (device.type == 'type-VF')
        assert types.get(device.parent, 'type-PF') == 'type-PF'
    for cell in host.cells:
        assert all(size >= 4 and size & (size - 1) == 0 for size in cell.pages)
    pinned, devices = [], []
    for instance in host.instances:
        assignment = instance.assignment
        pinned += sorted(assignment.pinned_pcpus)
        devices += [p.address for p in assignment.pci_devices]
        for placed in assignment.cells:
            assert set(placed.pinning.values()) <= cells[placed.host_cell].cpus
            assert placed.page_size_kb == 4 or placed.page_size_kb in \
                cells[placed.host_cell].pages
    assert len(pinned) == len(set(pinned)) and len(devices) == len(set(devices))
    assert set(devices) <= set(types)
