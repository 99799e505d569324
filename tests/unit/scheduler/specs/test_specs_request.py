"""Whole requests: basic fields, flavors, collected errors, round trip, invariants."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.specs import parse_request
from tests.unit.scheduler.specs.helpers import ALIASES, assert_error, errors_of, parse, request
from wire.errors import InvalidInput
from wire.request_spec import RequestSpec, ServerGroup

FLAVORS = {
    'pinned': {'vcpus': 4, 'ram': 8192, 'extra_specs': {'hw:cpu_policy': 'dedicated'}},
    'small': {'vcpus': 1, 'ram': 2048},
    'broken': {'vcpus': 0, 'ram': 'lots'},
}


@pytest.mark.parametrize('fields,expected', [
    ({}, (1, 1, None)),
    ({'count': 3}, (3, 1, None)),
    ({'count': 3, 'min_count': 2}, (3, 2, None)),
    ({'count': '2', 'min_count': '2'}, (2, 2, None)),
    ({'server_group': {'name': 'db', 'policy': 'anti-affinity'}},
     (1, 1, ServerGroup('db', 'anti-affinity'))),
    ({'server_group': {'name': 'web', 'policy': 'soft-affinity'}},
     (1, 1, ServerGroup('web', 'soft-affinity'))),
    ({'server_group': {'name': 'db', 'policy': 'anti-affinity',
                       'rules': {'max_server_per_host': 3}}},
     (1, 1, ServerGroup('db', 'anti-affinity', 3))),
    ({'server_group': {'name': 'db', 'policy': 'anti-affinity', 'rules': {}}},
     (1, 1, ServerGroup('db', 'anti-affinity'))),
])
def test_counts_and_server_group(fields, expected):
    spec = parse(**fields)
    assert (spec.count, spec.min_count, spec.server_group) == expected


@pytest.mark.parametrize('fields,field,words', [
    ({'name': ''}, 'name', ('non-empty',)),
    ({'name': None}, 'name', ('None',)),
    ({'vcpus': 0}, 'vcpus', ('minimum 1',)),
    ({'vcpus': None}, 'vcpus', ('required',)),
    ({'vcpus': 2.5}, 'vcpus', ('not an integer',)),
    ({'vcpus': True}, 'vcpus', ('not an integer',)),
    ({'memory_mb': 0}, 'memory_mb', ('minimum 1',)),
    ({'memory_mb': 'a lot'}, 'memory_mb', ("'a lot'",)),
    ({'count': 0}, 'count', ('minimum 1',)),
    ({'min_count': 0}, 'min_count', ('minimum 1',)),
    ({'count': 2, 'min_count': 3}, 'min_count', ('3 is above count 2',)),
    # A group by name is resolved by the scheduler (scheduler/server_groups.py) first.
    ({'server_group': 'db'}, 'server_group', ('by name', 'scheduler')),
    ({'server_group': ['db']}, 'server_group', ('object',)),
    ({'server_group': {'name': 'db', 'policy': 'affinity', 'size': 2}}, 'server_group',
     ("'size' is not a server group field",)),
    ({'server_group': {'name': 'db', 'policy': 'affinity',
                       'rules': {'max_server_per_host': 2}}},
     'server_group.rules.max_server_per_host', ('anti-affinity policy only',)),
    ({'server_group': {'name': 'db', 'policy': 'anti-affinity',
                       'rules': {'max_server_per_host': 0}}},
     'server_group.rules.max_server_per_host', ('minimum 1',)),
    ({'server_group': {'name': 'db', 'policy': 'anti-affinity',
                       'rules': {'max_server_per_host': '²'}}},
     'server_group.rules.max_server_per_host', ("'²'",)),
    ({'server_group': {'name': 'db', 'policy': 'anti-affinity', 'rules': {'spread': 1}}},
     'server_group.rules', ("'spread' is not a rule", 'max_server_per_host')),
    ({'server_group': {'name': 'db', 'policy': 'anti-affinity', 'rules': [1]}},
     'server_group.rules', ('expected an object',)),
    ({'server_group': {'name': 'a\u202eb', 'policy': 'affinity'}}, 'server_group.name',
     ('U+202E',)),
    ({'server_group': {'name': 'db', 'policy': 'spread'}}, 'server_group.policy',
     ("'spread'", 'soft-anti-affinity')),
    ({'server_group': {'policy': 'affinity'}}, 'server_group.name', ('non-empty',)),
])
def test_basic_field_errors(fields, field, words):
    assert_error(request(**fields), field, *words)


def test_a_request_that_is_not_an_object_is_refused():
    with pytest.raises(InvalidInput) as caught:
        parse_request(['vm'])
    assert caught.value.to_list() == [{'field': 'request', 'rule': 'expected an object'}]


def test_flavor_gives_vcpus_memory_and_extra_specs():
    spec = parse_request({'name': 'db', 'flavor': 'pinned'}, ALIASES, FLAVORS)
    assert (spec.vcpus, spec.memory_mb, spec.cpu_policy) == (4, 8192, 'dedicated')
    assert spec.extra_specs == {'hw:cpu_policy': 'dedicated'}
    assert parse_request({'name': 'x', 'flavor': 'small'}, None, FLAVORS).vcpus == 1


@pytest.mark.parametrize('raw,field,words', [
    ({'name': 'x', 'flavor': 'huge'}, 'flavor', ("'huge'", 'pinned, small')),
    ({'name': 'x', 'flavor': 'pinned', 'vcpus': 2}, 'vcpus', ("flavor 'pinned'",)),
    ({'name': 'x', 'flavor': 'pinned', 'memory_mb': 2}, 'memory_mb', ('cannot also',)),
    ({'name': 'x', 'flavor': 'pinned', 'extra_specs': {'hw:numa_nodes': '2'}}, 'extra_specs',
     ('cannot also',)),
    ({'name': 'x', 'flavor': 'broken'}, 'flavors.broken.vcpus', ('minimum 1',)),
    ({'name': 'x', 'flavor': 'broken'}, 'flavors.broken.ram', ("'lots'",)),
])
def test_flavor_errors(raw, field, words):
    assert_error(raw, field, *words, flavors=FLAVORS)


def test_unknown_flavor_without_a_catalog():
    assert_error({'name': 'x', 'flavor': 'pinned'}, 'flavor', 'none loaded')


def test_every_error_of_a_request_is_reported_at_once():
    raw = request({'hw:cpu_policy': 'dedicated', 'hw:cpu_thread_policy': 'sideways',
                   'hw:numa_nodes': '2', 'hw:numa_cpus.0': '0-1', 'hw:numa_mem.0': '2048',
                   'hw:mem_page_size': '3MB', 'pci_passthrough:alias': 'nope:1',
                   'hw:frobnicate': '1', 'trait:HW_CPU_X86_AVX2': 'please'},
                  {'hw_cpu_policy': 'shared', 'hw_vif_multiqueue_enabled': 'maybe'},
                  name='', count=1, min_count=2,
                  ports=[{'vnic_type': 'direct'}])
    fields = {field for field, _ in errors_of(raw)}
    assert fields >= {
        'name', 'min_count', 'ports[0].physical_network',
        'extra_specs.hw:cpu_thread_policy', 'extra_specs.hw:numa_cpus.1',
        'extra_specs.hw:numa_mem.1', 'extra_specs.hw:mem_page_size',
        'image_properties.hw_vif_multiqueue_enabled', 'extra_specs.pci_passthrough:alias',
        'extra_specs.hw:frobnicate', 'extra_specs.trait:HW_CPU_X86_AVX2'}


def test_invalid_input_lists_field_and_rule():
    with pytest.raises(InvalidInput) as caught:
        parse_request(request({'hw:numa_nodes': '3'}, vcpus=8, memory_mb=2048))
    assert caught.value.to_list() == [{
        'field': 'extra_specs.hw:numa_nodes',
        'rule': '8 vCPUs and 2048 MB cannot be split evenly over 3 NUMA nodes; give each '
                'cell hw:numa_cpus.N and hw:numa_mem.N'}]


@pytest.mark.parametrize('extra,image,fields', [
    ({}, None, {}),
    ({'hw:cpu_policy': 'mixed', 'hw:cpu_dedicated_mask': '^0', 'hw:numa_nodes': '2',
      'hw:mem_page_size': '2MB', 'pci_passthrough:alias': 'igb-vf:2',
      'trait:CUSTOM_A': 'forbidden', 'aggregate_instance_extra_specs:ssd': 'true'},
     {'hw_vif_multiqueue_enabled': 'true'},
     {'ports': [{'vnic_type': 'direct', 'physical_network': 'p1', 'vlan': 7}],
      'count': 4, 'min_count': 2, 'server_group': {'name': 'g', 'policy': 'affinity'}}),
    ({'hw:cpu_policy': 'dedicated', 'hw:cpu_realtime': 'yes', 'hw:cpu_realtime_mask': '^0',
      'hw:emulator_threads_policy': 'isolate', 'hw:mem_encryption': 'true'},
     {'hw_firmware_type': 'uefi', 'os_secure_boot': 'required'}, {}),
])
def test_round_trip_through_the_bus_form(extra, image, fields):
    spec = parse(extra, image, **fields)
    assert RequestSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec


@st.composite
def numa_requests(draw):
    """Valid-looking NUMA requests: auto split or explicit cells over random partitions."""
    nodes = draw(st.integers(1, 4))
    per_cell_cpus = draw(st.lists(st.integers(1, 4), min_size=nodes, max_size=nodes))
    per_cell_mem = draw(st.lists(st.integers(1, 4096), min_size=nodes, max_size=nodes))
    vcpus, memory_mb = sum(per_cell_cpus), sum(per_cell_mem)
    order = draw(st.permutations(range(vcpus)))
    extra = {'hw:numa_nodes': str(nodes),
             'hw:cpu_policy': draw(st.sampled_from(['shared', 'dedicated']))}
    if draw(st.booleans()):
        start = 0
        for cell, (count, mem) in enumerate(zip(per_cell_cpus, per_cell_mem)):
            extra[f'hw:numa_cpus.{cell}'] = ','.join(map(str, order[start:start + count]))
            extra[f'hw:numa_mem.{cell}'] = str(mem)
            start += count
    return request(extra, vcpus=vcpus, memory_mb=memory_mb)


@settings(max_examples=200, deadline=None)
@given(numa_requests())
def test_valid_numa_cells_partition_vcpus_and_memory(raw):
    try:
        spec = parse_request(raw)
    except InvalidInput as exc:
        # Only an even split can be refused, and only for being uneven.
        assert all('split evenly' in e.rule for e in exc.errors), exc.to_list()
        return
    all_vcpus = [v for cell in spec.numa_cells for v in cell.vcpus]
    assert sorted(all_vcpus) == list(range(raw['vcpus']))
    assert sum(cell.memory_mb for cell in spec.numa_cells) == raw['memory_mb']
    assert [cell.id for cell in spec.numa_cells] == list(range(len(spec.numa_cells)))
    assert all(cell.vcpus and cell.memory_mb >= 1 for cell in spec.numa_cells)
    assert RequestSpec.from_dict(spec.to_dict()) == spec


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(
    st.sampled_from(['hw:cpu_policy', 'hw:cpu_thread_policy', 'hw:numa_nodes',
                     'hw:mem_page_size', 'hw:cpu_realtime', 'hw:cpu_realtime_mask',
                     'hw:cpu_dedicated_mask', 'hw:emulator_threads_policy',
                     'hw:numa_cpus.0', 'hw:numa_mem.0', 'hw:numa_cpus.1', 'hw:numa_mem.1']),
    st.sampled_from(['dedicated', 'mixed', 'shared', 'isolate', 'prefer', 'yes', '^0', '0-1',
                     '1', '2', '2MB', 'large', '1024', '0', 'x', '']),
    max_size=6),
    st.integers(1, 6), st.sampled_from([1024, 2048, 3072]))
def test_any_extra_specs_give_a_consistent_spec_or_field_errors(extra, vcpus, memory_mb):
    raw = request(extra, vcpus=vcpus, memory_mb=memory_mb)
    try:
        spec = parse_request(raw)
    except InvalidInput as exc:
        assert exc.errors and all(e.field and e.rule for e in exc.errors)
        return
    if spec.numa_cells:
        assert sorted(v for c in spec.numa_cells for v in c.vcpus) == list(range(vcpus))
        assert sum(c.memory_mb for c in spec.numa_cells) == memory_mb
    assert spec.dedicated_vcpus <= set(range(vcpus))
    assert spec.realtime_vcpus <= set(range(vcpus))
    if spec.cpu_policy == 'dedicated':
        assert spec.dedicated_vcpus == set(range(vcpus))
    if spec.cpu_policy == 'mixed':
        assert 0 < len(spec.dedicated_vcpus) < vcpus
    if spec.cpu_policy != 'shared':
        assert spec.numa_cells and spec.thread_policy
    else:
        assert not spec.dedicated_vcpus and spec.thread_policy is None
