"""Error messages for malformed topologies are exactly those of the checking path.

The messages below were produced by HostTopology.from_dict before its fast
paths (wire.lazy_fields, parse_cpuset's C-level checks) were added.
"""

import copy

import pytest

from wire.errors import InvalidInput
from wire.topology import HostTopology


def cell(**kw):
    base = {'id': 0, 'cpus': [2, 3], 'shared_cpus': [0, 1], 'siblings': [[0, 2], [1, 3]],
            'memory_mb': 4096, 'pages': {'2048': 16}}
    base.update(kw)
    return base

ASSIGN = {'host': 'h', 'instance': 'vm', 'vcpus': 2, 'memory_mb': 512,
          'cells': [{'guest_cell': 0, 'host_cell': 0, 'vcpus': [0, 1], 'memory_mb': 512,
                     'pinning': {'0': 2, '1': 3}}]}


def host(cells=None, **kw):
    base = {'name': 'h', 'cells': cells or [cell()]}
    base.update(kw)
    return base


def inst(**kw):
    data = copy.deepcopy(ASSIGN)
    data.update(kw)
    return {'uuid': 'vm', 'assignment': data}


def inst_cell(**kw):
    data = copy.deepcopy(ASSIGN)
    data['cells'][0].update(kw)
    return {'uuid': 'vm', 'assignment': data}

CASES = {  # name -> a host with one or more broken fields
    'cell id negative': host([cell(id=-1)]),
    'cell id bool': host([cell(id=True)]),
    'cell id string': host([cell(id='x1')]),
    'cpus bad id': host([cell(cpus=[2, -3])]),
    'cpus bad text': host([cell(cpus='2-x')]),
    'cpus overlap shared': host([cell(cpus=[1, 2])]),
    'siblings not a list': host([cell(siblings='0,2')]),
    'sibling bad item': host([cell(siblings=[[0, 2], [1, 'a']])]),
    'sibling bool': host([cell(siblings=[[0, 2], [True]])]),
    'pages not object': host([cell(pages=[2048])]),
    'page size small': host([cell(pages={'2': 1})]),
    'page size text': host([cell(pages={'2M': 1})]),
    'page count negative': host([cell(pages={'2048': -1})]),
    'pools exceed memory': host([cell(pages={'1048576': 8})]),
    'memory missing and bad id': host([cell(memory_mb=None, id='q')]),
    'memory string below': host([cell(memory_mb='-5')]),
    'reserved none': host([cell(reserved_memory_mb=None)]),
    'two bad cells': host([cell(id=0, cpus=[-1]), cell(id=1, memory_mb=1.5)]),
    'duplicate ids': host([cell(), cell()]),
    'no cells': host([]) | {'cells': []},
    'assignment vcpus zero': host(instances=[inst(vcpus=0)]),
    'assignment shared bad': host(instances=[inst(shared_cpus=['0'])]),
    'assignment cell memory': host(instances=[inst_cell(memory_mb='0')]),
    'assignment pinning key': host(instances=[inst_cell(pinning={'a': 2})]),
    'assignment pinning value': host(instances=[inst_cell(pinning={'0': -2})]),
    'assignment page size': host(instances=[inst_cell(page_size_kb=2)]),
    'assignment cell vcpus': host(instances=[inst_cell(vcpus='1-0')]),
    'everything at once': host([cell(id=-1)], name='', sev_slots=-1,
                               instances=[inst(vcpus='x')]),
}

EXPECTED = [
    ('cell id negative',
     'hosts[7].cells[0].id: -1 is below the minimum 0'),
    ('cell id bool',
     'hosts[7].cells[0].id: True is not an integer'),
    ('cell id string',
     "hosts[7].cells[0].id: 'x1' is not an integer"),
    ('cpus bad id',
     'hosts[7].cells[0].cpus: -3: a CPU id is a non-negative integer'),
    ('cpus bad text',
     "hosts[7].cells[0].cpus: '2-x': not a CPU id or range"),
    ('cpus overlap shared',
     'hosts[7].cells[0].shared_cpus: CPUs [1] are also dedicated (cpus)'),
    ('siblings not a list',
     'hosts[7].cells[0].siblings: expected a list'),
    ('sibling bad item',
     "hosts[7].cells[0].siblings[1]: 'a': a CPU id is a non-negative integer"),
    ('sibling bool',
     'hosts[7].cells[0].siblings[1]: True: a CPU id is a non-negative integer'),
    ('pages not object',
     'hosts[7].cells[0].pages: expected an object {"<size_kb>": count}'),
    ('page size small',
     'hosts[7].cells[0].pages: 2 is below the minimum 4'),
    ('page size text',
     "hosts[7].cells[0].pages: '2M' is not an integer"),
    ('page count negative',
     'hosts[7].cells[0].pages.2048: -1 is below the minimum 0'),
    ('pools exceed memory',
     'hosts[7].cells[0].pages: pools hold 8192 MiB, more than memory_mb 4096'),
    ('memory missing and bad id',
     "hosts[7].cells[0].id: 'q' is not an integer"),
    ('memory string below',
     'hosts[7].cells[0].memory_mb: -5 is below the minimum 0'),
    ('reserved none',
     'hosts[7].cells[0].reserved_memory_mb: None is not an integer'),
    ('two bad cells',
     'hosts[7].cells[0].cpus: -1: a CPU id is a non-negative integer'),
    ('duplicate ids',
     'hosts[7].cells: cell ids [0, 0] are not unique'),
    ('no cells',
     'hosts[7].cells: a host has at least one NUMA cell'),
    ('assignment vcpus zero',
     'hosts[7].instances[0].assignment.vcpus: 0 is below the minimum 1'),
    ('assignment shared bad',
     "hosts[7].instances[0].assignment.shared_cpus: '0': a CPU id is a non-negative integer"),
    ('assignment cell memory',
     'hosts[7].instances[0].assignment.cells[0].memory_mb: 0 is below the minimum 1'),
    ('assignment pinning key',
     "hosts[7].instances[0].assignment.cells[0].pinning: 'a' is not an integer"),
    ('assignment pinning value',
     'hosts[7].instances[0].assignment.cells[0].pinning.0: -2 is below the minimum 0'),
    ('assignment page size',
     'hosts[7].instances[0].assignment.cells[0].page_size_kb: 2 is below the minimum 4'),
    ('assignment cell vcpus',
     "hosts[7].instances[0].assignment.cells[0].vcpus: '1-0': range end is below its start"),
    ('everything at once',
     "hosts[7].name: '' is not a non-empty string; "
     "hosts[7].cells[0].id: -1 is below the minimum 0; "
     "hosts[7].instances[0].assignment.vcpus: 'x' is not an integer; "
     "hosts[7].sev_slots: -1 is below the minimum 0"),
]


@pytest.mark.parametrize('name, message', EXPECTED)
def test_malformed_host_errors_are_unchanged(name, message):
    with pytest.raises(InvalidInput) as info:
        HostTopology.from_dict(CASES[name], 'hosts[7]')
    assert str(info.value) == message


def test_every_case_has_its_message():
    assert sorted(CASES) == sorted(name for name, _ in EXPECTED)


def test_well_formed_host_parses_the_same_values():
    parsed = HostTopology.from_dict(host(instances=[inst()]), 'hosts[7]')
    assert parsed.cells[0].siblings == (frozenset({0, 2}), frozenset({1, 3}))
    assert parsed.cells[0].pages == {2048: 16}
    assert parsed.instances[0].assignment.cells[0].pinning == {0: 2, 1: 3}
    assert HostTopology.from_dict(parsed.to_dict()) == parsed
