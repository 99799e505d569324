import dataclasses
import json

import pytest

from wire.assignment import Assignment, CellAssignment, PciAssignment
from wire.errors import FieldError, InvalidInput
from wire.files import FileFormatError, load_fleet, load_requests, parse_fleet
from wire.topology import HostTopology

HOST = {
    'name': 'compute-1',
    'cells': [
        {'id': 0, 'cpus': '2-7,10-15', 'shared_cpus': [0, 1, 8, 9],
         'siblings': [[0, 8], [1, 9], '2,10', [3, 11]], 'memory_mb': 65536,
         'pages': {'4': 100, '2048': 1024, '1048576': 8}},
        {'id': 1, 'cpus': '16-23', 'memory_mb': 65536, 'reserved_memory_mb': 512},
    ],
    'pci_devices': [
        {'address': '0000:05:00.1', 'vendor_id': '8086', 'product_id': '10c9',
         'type': 'type-PF', 'numa_node': 1, 'physical_network': 'physnet1'},
        {'address': '0000:05:10.1', 'vendor_id': '8086', 'product_id': '10ca',
         'type': 'type-VF', 'parent': '0000:05:00.1', 'numa_node': 1,
         'physical_network': 'physnet1', 'iommu_group': 25},
    ],
    'sev_slots': 15, 'secure_boot': True, 'traits': ['HW_CPU_X86_AVX2'],
    'aggregates': {'fast': {'ssd': 'true'}},
    'future_field': 'ignored',
}


def test_host_parses_the_fleet_format():
    host = HostTopology.from_dict(HOST)
    cell0, cell1 = host.cells
    assert cell0.cpus == frozenset(range(2, 8)) | frozenset(range(10, 16))
    assert cell0.pages == {2048: 1024, 1048576: 8}     # the small-page entry is derived
    assert cell0.hugepage_mb == 2048 + 8192
    assert cell0.small_page_mb == 65536 - 10240
    assert cell1.small_page_mb == 65536 - 512
    assert cell0.sibling_set(10) == frozenset({2, 10})
    assert cell1.sibling_set(16) == frozenset({16})
    assert host.pci_devices[1].parent == '0000:05:00.1'
    assert host.aggregates == {'fast': {'ssd': 'true'}}


def test_host_round_trips_through_dict():
    host = HostTopology.from_dict(HOST)
    assert HostTopology.from_dict(json.loads(json.dumps(host.to_dict()))) == host


def test_cell_socket_is_optional_and_round_trips():
    data = json.loads(json.dumps(HOST))
    data['cells'][1]['socket'] = 65535
    host = HostTopology.from_dict(data)
    assert [c.socket for c in host.cells] == [None, 65535]     # absent: unknown
    assert [c.get('socket') for c in host.to_dict()['cells']] == [None, 65535]
    assert 'socket' not in host.to_dict()['cells'][0]
    assert HostTopology.from_dict(host.to_dict()) == host


@pytest.mark.parametrize('mutate, field', [
    (lambda h: h.pop('name'), 'host.name'),
    (lambda h: h.update(cells=[]), 'host.cells'),
    (lambda h: h['cells'][0].pop('memory_mb'), 'host.cells[0].memory_mb'),
    (lambda h: h['cells'][0].update(cpus='0-3', shared_cpus=[3]), 'host.cells[0].shared_cpus'),
    (lambda h: h['cells'][1].update(id=0), 'host.cells'),
    (lambda h: h['cells'][0].update(pages={'1048576': 100}), 'host.cells[0].pages'),
    (lambda h: h['pci_devices'][0].update(type='type-XX'), 'host.pci_devices[0].type'),
    (lambda h: h['pci_devices'][1].pop('address'), 'host.pci_devices[1].address'),
    (lambda h: h.update(sev_slots=-1), 'host.sev_slots'),
    (lambda h: h.update(sev_es_slots=-1), 'host.sev_es_slots'),
    (lambda h: h.update(sev_snp_supported='maybe'), 'host.sev_snp_supported'),
    (lambda h: h.update(sev_snp_supported=1), 'host.sev_snp_supported'),
    (lambda h: h.update(sev_snp_supported=None), 'host.sev_snp_supported'),
    (lambda h: h['cells'][0].update(socket=-1), 'host.cells[0].socket'),
    (lambda h: h['cells'][0].update(socket=65536), 'host.cells[0].socket'),
    (lambda h: h['cells'][0].update(socket='x'), 'host.cells[0].socket'),
    (lambda h: h['cells'][0].update(socket=True), 'host.cells[0].socket'),
])
def test_host_errors_name_the_field(mutate, field):
    data = json.loads(json.dumps(HOST))
    mutate(data)
    with pytest.raises(InvalidInput) as info:
        HostTopology.from_dict(data)
    assert field in [e.field for e in info.value.errors]


def test_host_errors_are_collected():
    data = json.loads(json.dumps(HOST))
    data.pop('name')
    data['pci_devices'][0]['type'] = 'bogus'
    with pytest.raises(InvalidInput) as info:
        HostTopology.from_dict(data)
    assert {e.field for e in info.value.errors} == {'host.name', 'host.pci_devices[0].type'}


def _assignment():
    return Assignment(
        host='compute-1', instance='vm-1', vcpus=4, memory_mb=2048,
        cells=(CellAssignment(0, 1, (0, 1, 2, 3), 2048, 2048, {0: 16, 1: 17, 2: 18},
                              frozenset({0, 1}), frozenset({20})),),
        shared_cpus=frozenset({0, 1}), emulator_pcpus=frozenset({19}),
        pci_devices=(PciAssignment('0000:05:10.1', 1, 'port:0', 'physnet1'),), sev=True)


def test_assignment_round_trips_and_lists_held_pcpus():
    assignment = _assignment()
    assert Assignment.from_dict(json.loads(json.dumps(assignment.to_dict()))) == assignment
    assert assignment.pinned_pcpus == frozenset({16, 17, 18, 19, 20})


def test_sev_es_assignment_round_trips_and_needs_sev():
    es = dataclasses.replace(_assignment(), sev_es=True)
    data = json.loads(json.dumps(es.to_dict()))
    assert data['sev_es'] is True and Assignment.from_dict(data) == es
    assert 'sev_es' not in _assignment().to_dict()      # older readers see what they know
    data['sev'] = False
    with pytest.raises(FieldError) as info:      # as every field of an assignment
        Assignment.from_dict(data)
    assert info.value.field == 'assignment.sev_es'


def test_sev_snp_support_round_trips_and_defaults_to_false():
    assert HostTopology.from_dict(HOST).sev_snp_supported is False      # absent: no SEV-SNP
    data = dict(json.loads(json.dumps(HOST)), sev_es_slots=7, sev_snp_supported=True)
    host = HostTopology.from_dict(data)
    assert (host.sev_es_slots, host.sev_snp_supported) == (7, True)
    assert host.to_dict()['sev_snp_supported'] is True
    assert HostTopology.from_dict(json.loads(json.dumps(host.to_dict()))) == host


def test_sev_snp_assignment_round_trips_and_needs_sev_es():
    snp = dataclasses.replace(_assignment(), sev_es=True, sev_snp=True)
    data = json.loads(json.dumps(snp.to_dict()))
    assert (data['sev_es'], data['sev_snp']) == (True, True)
    assert Assignment.from_dict(data) == snp
    assert 'sev_snp' not in dataclasses.replace(snp, sev_snp=False).to_dict()
    for field, value in (('sev_es', False), ('sev_snp', 'sure')):
        bad = dict(data, **{field: value})
        with pytest.raises(FieldError) as info:
            Assignment.from_dict(bad)
        assert info.value.field == 'assignment.sev_snp'
    with pytest.raises(FieldError) as info:         # 'no' is a boolean, and it is false
        Assignment.from_dict(dict(data, sev='no'))
    assert info.value.field == 'assignment.sev_es'


def test_instances_on_a_host_carry_their_assignment():
    data = json.loads(json.dumps(HOST))
    data['cells'][1]['pages'] = {'2048': 1024}     # the instance's 2M pages come from cell 1
    data['instances'] = [{'uuid': 'u-1', 'assignment': _assignment().to_dict()}]
    host = HostTopology.from_dict(data)
    assert host.instances[0].name == 'u-1'
    assert host.instances[0].assignment == _assignment()


def test_fleet_file_errors_name_the_place(tmp_path):
    bad_json = tmp_path / 'fleet.json'
    bad_json.write_text('{"version": 1,\n "hosts": [}')
    with pytest.raises(FileFormatError, match=r'fleet.json: line 2 column'):
        load_fleet(bad_json)
    wrong_version = tmp_path / 'v2.json'
    wrong_version.write_text('{"version": 2, "hosts": []}')
    with pytest.raises(FileFormatError, match='version: 2 is not supported'):
        load_fleet(wrong_version)
    with pytest.raises(FileFormatError, match=r'hosts\[0\]\.cells\[0\]\.memory_mb: is required'):
        parse_fleet({'version': 1, 'hosts': [{'name': 'a', 'cells': [{'id': 0}]}]})
    twice = {'version': 1, 'hosts': [HOST, HOST]}
    with pytest.raises(FileFormatError, match='appear more than once'):
        parse_fleet(twice)


def test_yaml_files_are_accepted(tmp_path):
    path = tmp_path / 'requests.yaml'
    path.write_text('version: 1\nrequests:\n  - name: a\n    vcpus: 2\n    memory_mb: 512\n')
    assert load_requests(path) == [{'name': 'a', 'vcpus': 2, 'memory_mb': 512}]
    path.write_text('version: 1\nrequests: [1')
    with pytest.raises(FileFormatError, match='requests.yaml: line'):
        load_requests(path)
