"""Each [limits] bound, where it applies, and the exact message it gives.

Small limits are passed as a value (the parsers are pure), so each case shows
the bound and the field it guards; one test checks the options build the value.
"""

import copy

import pytest
from oslo_config import cfg

from scheduler.specs import parse_request
from scheduler.specs.flavors import parse_flavors
from wire import limits as limits_module
from wire.assignment import Assignment
from wire.cpuset import CpuSetError, parse_cpuset
from wire.errors import InvalidInput
from wire.files import FileFormatError, parse_fleet
from wire.limits import Limits
from wire.topology import HostTopology

SMALL = Limits(max_vcpus=8, max_memory_mb=4096, max_count=3, max_cpu_id=63, max_cells=2,
               max_pci_devices=1, max_instances=1, max_extra_specs=3, max_ports=1,
               max_string_length=24, max_traits=1, max_aggregates=1)
CELL = {'id': 0, 'cpus': [2, 3], 'shared_cpus': [0, 1], 'memory_mb': 4096}
VF = {'address': '0000:81:10.0', 'vendor_id': '8086', 'product_id': '154c'}
ASSIGNMENT = {'host': 'h', 'instance': 'vm', 'vcpus': 1, 'memory_mb': 512}


def host(**kw):
    return dict({'name': 'h', 'cells': [CELL]}, **kw)


HOST_CASES = [
    (host(cells=[CELL, dict(CELL, id=1), dict(CELL, id=2)]),
     'host.cells: has 3 items, more than the maximum 2'),
    (host(cells=[dict(CELL, cpus='0-300000000')]),
     "host.cells[0].cpus: '0-300000000': a CPU id is at most 63"),
    (host(cells=[dict(CELL, shared_cpus=[64])]),
     'host.cells[0].shared_cpus: 64: a CPU id is at most 63'),
    (host(cells=[dict(CELL, siblings=[[0, 1]] * 65)]),
     'host.cells[0].siblings: has 65 items, more than the maximum 64'),
    (host(cells=[dict(CELL, id=1024)]),
     'host.cells[0].id: 1024 is above the maximum 1023'),
    (host(pci_devices=[VF, dict(VF, address='0000:81:10.1')]),
     'host.pci_devices: has 2 items, more than the maximum 1'),
    (host(pci_devices=[dict(VF, numa_node='²')]),
     "host.pci_devices[0].numa_node: '²' is not an integer (ASCII digits 0-9 only)"),
    (host(traits=['A', 'B']), 'host.traits: has 2 items, more than the maximum 1'),
    (host(aggregates={'a': {}, 'b': {}}), 'host.aggregates: has 2 entries, more than the '
                                          'maximum 1'),
    (host(aggregates={'a': {'k': 'v', 'l': 'w'}}),
     'host.aggregates.a: has 2 entries, more than the maximum 1'),
    (host(instances=[{'assignment': ASSIGNMENT}, {'assignment': dict(ASSIGNMENT,
                                                                     instance='vm2')}]),
     'host.instances: has 2 items, more than the maximum 1'),
    (host(instances=[{'assignment': dict(ASSIGNMENT, vcpus=9)}]),
     'host.instances[0].assignment.vcpus: 9 is above the maximum 8'),
    (host(instances=[{'assignment': dict(ASSIGNMENT, memory_mb=5000)}]),
     'host.instances[0].assignment.memory_mb: 5000 is above the maximum 4096'),
    (host(instances=[{'assignment': ASSIGNMENT, 'name': 'n' * 25}]),
     'host.instances[0].name: is 25 characters long, more than the maximum 24'),
]


@pytest.mark.parametrize('raw, message', HOST_CASES)
def test_host_limits(raw, message):
    with pytest.raises(InvalidInput) as caught:
        HostTopology.from_dict(raw, 'host', SMALL)
    assert str(caught.value) == message


def cell_assignment(**kw):
    return dict({'guest_cell': 0, 'host_cell': 0, 'vcpus': [0], 'memory_mb': 512}, **kw)


ASSIGNMENT_CASES = [
    (dict(ASSIGNMENT, cells=[cell_assignment()] * 3),
     'a.cells: has 3 items, more than the maximum 2'),
    (dict(ASSIGNMENT, cells=[cell_assignment(vcpus='0-300000000')]),
     "a.cells[0].vcpus: '0-300000000': a CPU id is at most 7"),
    (dict(ASSIGNMENT, cells=[cell_assignment(pinning={'0': 64})]),
     'a.cells[0].pinning.0: 64 is above the maximum 63'),
    (dict(ASSIGNMENT, cells=[cell_assignment(pinning={'8': 1})]),
     'a.cells[0].pinning: 8 is above the maximum 7'),
    (dict(ASSIGNMENT, emulator_pcpus='0-64'),
     "a.emulator_pcpus: '0-64': a CPU id is at most 63"),
    (dict(ASSIGNMENT, pci_devices=[{'address': 'x', 'request': 'r'}] * 2),
     'a.pci_devices: has 2 items, more than the maximum 1'),
    (dict(ASSIGNMENT, pci_devices=['x']),
     'a.pci_devices[0]: expected an object {address, request, ...}'),
    (dict(ASSIGNMENT, instance='../vm'),
     "a.instance: '../vm' is not an instance uuid: 1-36 ASCII letters, digits, '.', '_' and "
     "'-', starting with a letter or digit"),
    ('x', 'a: expected an object {host, instance, vcpus, ...}'),
]


@pytest.mark.parametrize('raw, message', ASSIGNMENT_CASES)
def test_assignment_limits(raw, message):
    with pytest.raises(ValueError) as caught:
        Assignment.from_dict(raw, 'a', SMALL)
    assert str(caught.value) == message


BASE = {'name': 'vm', 'vcpus': 2, 'memory_mb': 512}
REQUEST_CASES = [
    (dict(BASE, vcpus=9), 'vcpus: 9 is above the maximum 8'),
    (dict(BASE, vcpus=2 ** 63), 'vcpus: 9223372036854775808 is above the maximum 8'),
    (dict(BASE, memory_mb=4097), 'memory_mb: 4097 is above the maximum 4096'),
    (dict(BASE, count=4), 'count: 4 is above the maximum 3'),
    (dict(BASE, count=3, min_count=4), 'min_count: 4 is above the maximum 3'),
    (dict(BASE, name='n' * 25), 'name: is 25 characters long, more than the maximum 24'),
    (dict(BASE, name='n' * 23, count=2),
     'name: is 23 characters long, more than the maximum 22'),
    (dict(BASE, extra_specs={'a': '1', 'b': '2', 'c': '3', 'd': '4'}),
     'extra_specs: has 4 entries, more than the maximum 3'),
    (dict(BASE, image_properties={'a': '1', 'b': '2', 'c': '3', 'd': '4'}),
     'image_properties: has 4 entries, more than the maximum 3'),
    (dict(BASE, extra_specs={'quota:x': 'v' * 25}),
     'extra_specs.quota:x: is 25 characters long, more than the maximum 24'),
    (dict(BASE, extra_specs={'k' * 25: 'v'}),
     f"extra_specs['{'k' * 25}']: the key is 25 characters long, more than the maximum 24"),
    (dict(BASE, ports=[{}, {}]), 'ports: has 2 ports, more than the maximum 1'),
    (dict(BASE, vcpus=4, extra_specs={'hw:cpu_policy': 'mixed',
                                       'hw:cpu_dedicated_mask': '0-300000000'}),
     "extra_specs.hw:cpu_dedicated_mask: '0-300000000': '0-300000000': a CPU id is at "
     'most 7'),
    (dict(BASE, extra_specs={'hw:numa_nodes': '1', 'hw:numa_cpus.0': '0-300000000',
                             'hw:numa_mem.0': '512'}),
     "extra_specs.hw:numa_cpus.0: '0-300000000': '0-300000000': a CPU id is at most 7"),
]


@pytest.mark.parametrize('raw, message', REQUEST_CASES)
def test_request_limits(raw, message):
    with pytest.raises(InvalidInput) as caught:
        parse_request(raw, limits=SMALL)
    assert str(caught.value) == message


def test_fleet_and_flavor_files_pass_the_limits_on():
    with pytest.raises(FileFormatError, match=r'^fleet: hosts\[0\].cells: has 3 items'):
        parse_fleet({'version': 1, 'hosts': [host(cells=[CELL] * 3)]}, limits=SMALL)
    flavors = {'version': 1, 'flavors': {'big': {'vcpus': 9, 'ram': 512}}}
    with pytest.raises(FileFormatError) as caught:
        parse_flavors(flavors, limits=SMALL)
    assert str(caught.value) == 'flavors: flavors.big: flavors.big.vcpus: 9 is above the maximum 8'


def test_cpu_ranges_are_refused_before_they_are_expanded():
    with pytest.raises(CpuSetError, match=r"^'0-300000000': a CPU id is at most 16383$"):
        parse_cpuset('0-300000000')
    with pytest.raises(CpuSetError, match=r'the ranges name more than 65536 CPU ids in all'):
        parse_cpuset(','.join(['0-16383'] * 5))
    with pytest.raises(CpuSetError, match=r'^a list of 65537 CPU ids is longer than the maximum'):
        parse_cpuset([0] * 65537)
    assert parse_cpuset('0-16383') == frozenset(range(16384))


def test_defaults_cover_real_hosts_and_guests():
    default = Limits()
    big_host = host(cells=[dict(CELL, id=i, cpus=f'{i * 256}-{i * 256 + 255}', shared_cpus=[])
                           for i in range(8)])
    assert len(HostTopology.from_dict(big_host, 'host', default).cells) == 8
    assert parse_request(dict(BASE, vcpus=512, memory_mb=2 ** 20, count=100)).count == 100


def test_options_build_the_value():
    conf = cfg.ConfigOpts()
    conf.register_opts(limits_module.limits_opts, group='limits')
    conf([])
    conf.set_override('max_vcpus', 64, group='limits')
    conf.set_override('max_cpu_id', 511, group='limits')
    built = limits_module.from_conf(conf)
    assert built == Limits(max_vcpus=64, max_cpu_id=511)
    assert built.max_vcpu_id == 63
    assert [o.name for o in limits_module.list_opts()[0][1]] == [
        f.name for f in limits_module.dataclasses.fields(Limits)]


def test_a_refused_report_changes_nothing_it_was_given():
    raw = host(cells=[dict(CELL, cpus='0-300000000')])
    before = copy.deepcopy(raw)
    with pytest.raises(InvalidInput):
        HostTopology.from_dict(raw, 'host', SMALL)
    assert raw == before
