"""Table tests: each topology consistency rule and the message it gives."""

import copy

import pytest

from wire.errors import InvalidInput
from wire.topology import HostTopology

VF = {'address': '0000:3b:02.0', 'vendor_id': '8086', 'product_id': '154c', 'type': 'type-VF',
      'parent': '0000:3b:00.0', 'numa_node': 0, 'physical_network': 'net1', 'iommu_group': 11}
PF = {'address': '0000:3b:00.0', 'vendor_id': '8086', 'product_id': '158b', 'type': 'type-PF',
      'numa_node': 0, 'physical_network': 'net1', 'iommu_group': 10}
HOST = {
    'name': 'h1',
    'cells': [
        {'id': 0, 'cpus': '2-5', 'shared_cpus': [0, 1], 'siblings': [[0, 8], [2, 10]],
         'memory_mb': 16384, 'pages': {'2048': 1024}},
        {'id': 1, 'cpus': '6-7', 'shared_cpus': [14, 15], 'siblings': [[6, 7]],
         'memory_mb': 16384},
    ],
    'pci_devices': [PF, VF],
}


def _running(uuid, **changes):
    assignment = {'host': 'h1', 'instance': uuid, 'vcpus': 2, 'memory_mb': 1024,
                  'cells': [{'guest_cell': 0, 'host_cell': 0, 'vcpus': [0, 1],
                             'memory_mb': 1024, 'page_size_kb': 2048,
                             'pinning': {'0': 2, '1': 3}}],
                  'pci_devices': [{'address': '0000:3b:02.0', 'host_cell': 0,
                                   'request': 'port:0'}]}
    assignment.update(changes)
    return {'uuid': uuid, 'assignment': assignment}


def _host(change):
    data = copy.deepcopy(HOST)
    change(data)
    return data


def _cell(index, **values):
    return lambda h: h['cells'][index].update(values)


def _device(index, **values):
    return lambda h: h['pci_devices'][index].update(values)


def _add_device(**values):
    return lambda h: h['pci_devices'].append(dict(VF, **values))


def _instances(*items):
    return lambda h: h.update(instances=list(items))


ONE_CELL = [{'guest_cell': 0, 'host_cell': 0, 'vcpus': [0, 1], 'memory_mb': 1024,
             'page_size_kb': 2048, 'pinning': {'0': 4, '1': 5}}]

CASES = [
    ('dedicated in one cell, shared in another', _cell(1, shared_cpus=[5, 14]),
     'host.cells[1].shared_cpus',
     'pCPUs 5 are also in host.cells[0].cpus: a pCPU is in one set of one cell'),
    ('dedicated in two cells', _cell(1, cpus='5-7'), 'host.cells[1].cpus',
     'pCPUs 5 are also in host.cells[0].cpus: a pCPU is in one set of one cell'),
    ('dedicated and shared in one cell', _cell(0, shared_cpus=[0, 1, 2]),
     'host.cells[0].shared_cpus', 'CPUs [2] are also dedicated (cpus)'),
    ('sibling in another cell', _cell(1, siblings=[[6, 7], [3, 15]]),
     'host.cells[1].siblings[1]',
     'CPUs 3 belong to another cell: siblings stay within their cell'),
    ('cpu in two sibling groups', _cell(0, siblings=[[0, 8], [2, 8]]),
     'host.cells[0].siblings[1]', 'CPUs 8 are in another sibling group: a CPU is in one group'),
    ('page size not a power of two', _cell(0, pages={'3000': 1}), 'host.cells[0].pages.3000',
     'a page size is a power of two of at least 4 KiB'),
    ('pools above memory', _cell(0, pages={'1048576': 17}), 'host.cells[0].pages',
     'pools hold 17408 MiB, more than memory_mb 16384'),
    ('address malformed', _device(1, address='0000:3b:2.0'), 'host.pci_devices[1].address',
     "'0000:3b:2.0' is not a PCI address dddd:bb:ss.f (lower-case hex, slot 00-1f, "
     'function 0-7)'),
    ('address upper case', _device(1, address='0000:3B:02.0'), 'host.pci_devices[1].address',
     "'0000:3B:02.0' is not a PCI address dddd:bb:ss.f (lower-case hex, slot 00-1f, "
     'function 0-7)'),
    ('address twice', _add_device(iommu_group=12), 'host.pci_devices[2].address',
     '0000:3b:02.0 is listed twice: an address is unique on a host'),
    ('device on a missing node', _device(1, numa_node=3), 'host.pci_devices[1].numa_node',
     '3 is not a cell of the host (cells [0, 1])'),
    ('VF without parent', _device(1, parent=None), 'host.pci_devices[1].parent',
     'a type-VF device names its PF'),
    ('VF parent malformed', _device(1, parent='3b:00.1'), 'host.pci_devices[1].parent',
     "'3b:00.1' is not a PCI address dddd:bb:ss.f (lower-case hex, slot 00-1f, "
     'function 0-7)'),
    ('VF parent not a PF', _device(0, type='type-PCI'), 'host.pci_devices[1].parent',
     '0000:3b:00.0 is a type-PCI device, not a PF'),
    ('VF parent is a VF', _add_device(address='0000:3b:02.1', parent='0000:3b:02.0',
                                      iommu_group=12),
     'host.pci_devices[2].parent', '0000:3b:02.0 is a type-VF device, not a PF'),
    ('parent on a PF', _device(0, parent='0000:3b:02.0'), 'host.pci_devices[0].parent',
     'a type-PF device has no parent (only a type-VF does)'),
    ('members without group', _device(1, iommu_group=None,
                                      iommu_group_members=['0000:3b:02.0']),
     'host.pci_devices[1].iommu_group_members', "members need the device's iommu_group"),
    ('members without the device', _device(1, iommu_group_members=['0000:3b:02.1']),
     'host.pci_devices[1].iommu_group_members', 'does not list the device itself (0000:3b:02.0)'),
    ('member malformed', _device(1, iommu_group_members=['0000:3b:02.0', 'x']),
     'host.pci_devices[1].iommu_group_members[1]',
     "'x' is not a PCI address dddd:bb:ss.f (lower-case hex, slot 00-1f, function 0-7)"),
    ('members differ in a group', lambda h: (
        h['pci_devices'][1].update(iommu_group=10, iommu_group_members=['0000:3b:02.0',
                                                                        '0000:3b:00.0']),
        h['pci_devices'][0].update(iommu_group_members=['0000:3b:00.0'])),
     'host.pci_devices[1].iommu_group_members',
     'differs from host.pci_devices[0].iommu_group_members: devices of IOMMU group 10 list '
     'the same members'),
    ('device of the group not a member', lambda h: h['pci_devices'][1].update(
        iommu_group=10, iommu_group_members=['0000:3b:02.0', '0000:3b:02.1']),
     'host.pci_devices[0].iommu_group',
     "group 10 lists members ['0000:3b:02.0', '0000:3b:02.1'] without 0000:3b:00.0"),
    ('instance on another host', _instances(_running('a', host='h2')),
     'host.instances[0].assignment', "names host 'h2', this is 'h1'"),
    ('instance on a missing cell', _instances(_running('a', cells=[dict(ONE_CELL[0],
                                                                         host_cell=4)])),
     'host.instances[0].assignment', 'host cells [4] do not exist (cells [0, 1])'),
    ('instance pins a shared pCPU', _instances(_running('a', cells=[dict(
        ONE_CELL[0], pinning={'0': 0, '1': 5})])),
     'host.instances[0].assignment', 'pCPUs 0 are not dedicated pCPUs of host cell 0'),
    ('instance pins a pCPU the host lacks', _instances(_running('a', cells=[dict(
        ONE_CELL[0], pinning={'0': 99, '1': 5})])),
     'host.instances[0].assignment', 'pCPUs 99 are not dedicated pCPUs of host cell 0'),
    ('instance floats on a dedicated pCPU', _instances(_running('a', shared_cpus=[2])),
     'host.instances[0].assignment', 'pCPUs 2 are not shared pCPUs of the host'),
    ('instance emulator on a shared pCPU', _instances(_running('a', emulator_pcpus=[0])),
     'host.instances[0].assignment', 'emulator pCPUs 0 are not dedicated pCPUs'),
    ('instance page size missing', _instances(_running('a', cells=[dict(
        ONE_CELL[0], page_size_kb=1048576)])),
     'host.instances[0].assignment', 'host cell 0 has no 1048576 KiB page pool'),
    ('instance device missing', _instances(_running('a', pci_devices=[
        {'address': '0000:3b:02.7', 'host_cell': 0, 'request': 'port:0'}])),
     'host.instances[0].assignment', 'PCI device 0000:3b:02.7 is not on the host'),
    ('instances share a pCPU', _instances(_running('a'), _running('b', pci_devices=[])),
     'host.instances[1].assignment', 'pCPUs 2-3 are already held by instance a'),
    ('instances share a VF', _instances(_running('a'), _running('b', cells=ONE_CELL)),
     'host.instances[1].assignment',
     'PCI device 0000:3b:02.0 (or its PF or VFs) is already held by instance a'),
    ('instances share a PF and its VF', _instances(_running('a'), _running(
        'b', cells=ONE_CELL, pci_devices=[{'address': '0000:3b:00.0', 'host_cell': 0,
                                           'request': 'alias:nic'}])),
     'host.instances[1].assignment',
     'PCI device 0000:3b:00.0 (or its PF or VFs) is already held by instance a'),
    ('instance lists a VF twice', _instances(_running('a', pci_devices=[
        {'address': '0000:3b:02.0', 'host_cell': 0, 'request': f"port:{i}"} for i in (0, 1)])),
     'host.instances[0].assignment',
     'PCI device 0000:3b:02.0 (or its PF or VFs) is already held by instance a'),
    ('instances overcommit pages', _instances(
        _running('a', pci_devices=[], cells=[dict(ONE_CELL[0], memory_mb=1536)]),
        _running('b', pci_devices=[], cells=[dict(ONE_CELL[0], pinning={'0': 2, '1': 3},
                                                   memory_mb=1024)])),
     'host.instances[1].assignment',
     'host cell 0: 512 pages of 2048 KiB with 768 already held, the pool has 1024'),
    ('instances share an IOMMU group', lambda h: (
        h['pci_devices'].append(dict(VF, address='0000:3b:02.1', iommu_group=11)),
        h.update(instances=[_running('a'), _running('b', cells=ONE_CELL, pci_devices=[
            {'address': '0000:3b:02.1', 'host_cell': 0, 'request': 'port:0',
             'iommu_group': 11}])])),
     'host.instances[1].assignment',
     '0000:3b:02.1: IOMMU group 11 also holds 0000:3b:02.0 (kept by the host or held by '
     'another instance)'),
]


@pytest.mark.parametrize('name, change, field, rule', CASES, ids=[c[0] for c in CASES])
def test_each_rule_names_the_field_and_the_rule(name, change, field, rule):
    with pytest.raises(InvalidInput) as info:
        HostTopology.from_dict(_host(change))
    assert [(e.field, e.rule) for e in info.value.errors] == [(field, rule)]


def test_a_vf_of_a_pf_the_host_keeps_is_accepted():
    host = HostTopology.from_dict(_host(_device(1, parent='0000:3b:00.1')))
    assert host.pci_devices[1].parent == '0000:3b:00.1'


def test_the_base_host_and_a_fitting_instance_are_accepted():
    host = HostTopology.from_dict(_host(_instances(_running('a'), _running(
        'b', pci_devices=[], cells=ONE_CELL))))
    assert [i.uuid for i in host.instances] == ['a', 'b']


def test_errors_of_several_rules_are_collected():
    def change(h):
        h['cells'][1]['shared_cpus'] = [5]
        h['pci_devices'][1]['numa_node'] = 7
        h['cells'][0]['pages'] = {'3000': 1}
    with pytest.raises(InvalidInput) as info:
        HostTopology.from_dict(_host(change))
    assert sorted(e.field for e in info.value.errors) == [
        'host.cells[0].pages.3000', 'host.cells[1].shared_cpus',
        'host.pci_devices[1].numa_node']


def test_iommu_members_round_trip_and_old_topologies_stay_unchanged():
    plain = HostTopology.from_dict(HOST)
    assert 'iommu_group_members' not in plain.to_dict()['pci_devices'][1]
    grouped = _host(_device(1, iommu_group_members=['0000:3b:02.0', '0000:3b:02.1']))
    host = HostTopology.from_dict(grouped)
    assert host.pci_devices[1].iommu_group_members == ('0000:3b:02.0', '0000:3b:02.1')
    assert HostTopology.from_dict(host.to_dict()) == host
