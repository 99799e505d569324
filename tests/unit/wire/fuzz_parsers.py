"""Property-based fuzzing of every parser of untrusted input (run by test_parsers_fuzz.py).

Not collected on its own (no ``test_`` prefix): test_parsers_fuzz.py runs this
module in a child pytest whose address space is capped at 1 GiB (RLIMIT_AS), so
an input that makes a parser allocate without bound fails here with
MemoryError instead of taking the test runner down.  Each input also has a
wall-clock limit, enforced with a timer signal.

For every parser: only the documented input errors come out (FieldError,
InvalidInput, FileFormatError, CpuSetError), the input is never modified, and
each call ends within TIME_LIMIT_S.
"""

import copy
import json
import os
import resource
import signal
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.specs import parse_aliases, parse_request
from scheduler.specs.flavors import parse_flavors
from wire import fields
from wire.assignment import Assignment
from wire.cpuset import CpuSetError, parse_cpuset
from wire.errors import FieldError, InvalidInput
from wire.files import FileFormatError, load_document, parse_fleet
from wire.topology import HostTopology

CAP_BYTES = 1 << 30
TIME_LIMIT_S = 2.0
DOCUMENTED = (FieldError, InvalidInput, FileFormatError, CpuSetError)
SETTINGS = settings(max_examples=int(os.environ.get('KVMFLEET_FUZZ_EXAMPLES', '250')),
                    deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# Values seen to break parsers, or shaped to: issue 9's list and their relatives.
HOSTILE = ['²', '٣', '--5', ' 5 ', '5.0', '1_000', '+5', '-1', '0', '', 2 ** 63, -2 ** 63 - 1,
           2 ** 200, 300000000, 30000000, '0-300000000', '^0-300000000', '0-16383,' * 50,
           'x:²', 'igb-vf:99999999999999999999', '\ud800', 'a\x00b', 'a\u202eb', 'Ⅻ',
           '../../etc/passwd', 'x' * 5000, '9' * 5000, [], {}, ['x'], ['h'], {'x': 'y'},
           [[0, 1]], None, True, False, 1.5, -0.0, 1e308, "q35'/><x", 'type-VF',
           '0000:81:10.0', '8086', 'dedicated', 'mixed', 'large', '1GB', 'required']
KEYS = ['name', 'cells', 'id', 'cpus', 'shared_cpus', 'siblings', 'memory_mb', 'pages',
        'pci_devices', 'address', 'parent', 'numa_node', 'instances', 'assignment', 'uuid',
        'traits', 'aggregates', 'vcpus', 'count', 'min_count', 'extra_specs', 'ports',
        'image_properties', 'hw:numa_nodes', 'hw:numa_cpus.0', 'hw:cpu_dedicated_mask',
        'pci_passthrough:alias', 'hw_machine_type', 'version', 'hosts', 'flavors', 'pinning']

# Half the leaves come from HOSTILE, so each run tries most of them at many places.
scalars = st.one_of(st.sampled_from(HOSTILE),
                    st.integers() | st.text(max_size=40) | st.floats(allow_nan=False)
                    | st.booleans() | st.none())
values = st.recursive(scalars, lambda inner: (
    st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), inner, max_size=4)),
    max_leaves=12)

CELL = {'id': 0, 'cpus': '2-5', 'shared_cpus': [0, 1], 'siblings': [[0, 2], [1, 3], '4-5'],
        'memory_mb': 8192, 'pages': {'2048': 512}, 'reserved_memory_mb': 256}
ASSIGNMENT = {'host': 'h1', 'instance': 'vm-1', 'vcpus': 2, 'memory_mb': 1024,
              'cells': [{'guest_cell': 0, 'host_cell': 0, 'vcpus': [0, 1], 'memory_mb': 1024,
                         'page_size_kb': 2048, 'pinning': {'0': 2, '1': 3}}],
              'shared_cpus': [], 'emulator_pcpus': [2],
              'pci_devices': [{'address': '0000:81:10.0', 'host_cell': 0, 'request': 'port:0',
                               'physical_network': 'physnet1'}],
              'sev': True, 'sev_es': True, 'sev_snp': True}
HOST = {'name': 'h1', 'cells': [CELL, dict(CELL, id=1, cpus='8-11', shared_cpus='6-7',
                                           siblings=[])],
        'pci_devices': [{'address': '0000:81:00.0', 'vendor_id': '8086', 'product_id': '1572',
                         'type': 'type-PF', 'numa_node': 0, 'physical_network': 'physnet1'},
                        {'address': '0000:81:10.0', 'vendor_id': '8086', 'product_id': '154c',
                         'type': 'type-VF', 'parent': '0000:81:00.0', 'numa_node': 0,
                         'iommu_group': 40}],
        'sev_slots': 2, 'sev_es_slots': 2, 'sev_snp_supported': True, 'secure_boot': True,
        'traits': ['HW_CPU_X86_AVX2'],
        'aggregates': {'fast': {'ssd': 'true'}}, 'enabled': True,
        'instances': [{'uuid': 'vm-1', 'name': 'web 1', 'assignment': ASSIGNMENT,
                       'server_group': 'g'}]}
REQUEST = {'name': 'web', 'vcpus': 4, 'memory_mb': 2048, 'count': 2, 'min_count': 1,
           'image': 'cirros', 'server_group': {'name': 'g', 'policy': 'anti-affinity'},
           'extra_specs': {'hw:cpu_policy': 'mixed', 'hw:cpu_dedicated_mask': '^0',
                           'hw:numa_nodes': '2', 'hw:numa_cpus.0': '0-1', 'hw:numa_mem.0': '1024',
                           'hw:numa_cpus.1': '2-3', 'hw:numa_mem.1': '1024',
                           'hw:mem_page_size': '2MB', 'pci_passthrough:alias': 'gpu:1',
                           'trait:HW_CPU_X86_AVX2': 'required', 'hw:cpu_sockets': '2'},
           'image_properties': {'hw_machine_type': 'q35', 'hw_firmware_type': 'uefi'},
           'ports': [{'vnic_type': 'direct', 'physical_network': 'physnet1',
                      'mac_address': 'fa:16:3e:00:00:01', 'vlan': 10}]}
ALIAS = {'name': 'gpu', 'vendor_id': '10de', 'product_id': '1db4', 'device_type': 'type-PCI',
         'numa_policy': 'preferred'}
FLAVORS = {'version': 1, 'pci_aliases': [ALIAS, json.dumps(dict(ALIAS, name='gpu2'))],
           'flavors': {'m1': {'vcpus': 2, 'ram': 1024, 'extra_specs': {'hw:numa_nodes': '1'}}}}


class TimeLimitExceeded(Exception):
    """An input took longer than TIME_LIMIT_S: unbounded work."""


def _alarm(signum, frame):
    raise TimeLimitExceeded(f'one input took more than {TIME_LIMIT_S} s')


def check(parser, *args):
    """Run ``parser(*args)``: a documented error or a result, in time, input untouched."""
    before = copy.deepcopy(args)
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, TIME_LIMIT_S)
    started, timed_out = time.perf_counter(), False
    try:
        parser(*args)
    except DOCUMENTED as exc:
        assert str(exc) and len(str(exc)) < 20000, 'an error message is bounded too'
    except TimeLimitExceeded:   # reported below, away from a possibly very deep stack
        timed_out = True
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert not timed_out and time.perf_counter() - started < TIME_LIMIT_S, (
        f'{parser.__qualname__} took more than {TIME_LIMIT_S} s')
    assert args == before, 'a parser must not modify its input'


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, child in node.items():
            yield from _paths(child, prefix + (key,))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from _paths(child, prefix + (index,))


def _replace(document, path, value):
    if not path:
        return value
    result = copy.deepcopy(document)
    node = result
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return result


def mutated(document):
    """``document`` with one place (any depth, the root included) replaced by a hostile value."""
    paths = list(_paths(document))
    return st.tuples(st.sampled_from(paths), values).map(
        lambda choice: _replace(document, *choice))


def test_the_cap_is_in_force():
    if os.environ.get('KVMFLEET_FUZZ_CAPPED') != '1':
        pytest.fail('run through tests/unit/wire/test_parsers_fuzz.py (1 GiB cap)')
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    assert 0 < soft <= CAP_BYTES and 0 < hard <= CAP_BYTES
    with pytest.raises(MemoryError):    # refused at once: nothing is zeroed
        bytearray(2 * CAP_BYTES)


@SETTINGS
@given(mutated(HOST))
def test_host_topology(raw):
    check(HostTopology.from_dict, raw, 'host')


@SETTINGS
@given(mutated({'version': 1, 'hosts': [HOST]}))
def test_fleet_document(document):
    check(parse_fleet, document, 'fleet')


@SETTINGS
@given(mutated(ASSIGNMENT))
def test_assignment(raw):
    check(Assignment.from_dict, raw, 'assignment')


@SETTINGS
@given(mutated(REQUEST))
def test_request(raw):
    check(parse_request, raw, parse_aliases([ALIAS]), FLAVORS['flavors'])


@SETTINGS
@given(mutated(dict(REQUEST, flavor='m1', vcpus=None, memory_mb=None, extra_specs=None)))
def test_request_naming_a_flavor(raw):
    check(parse_request, raw, {}, FLAVORS['flavors'])


@SETTINGS
@given(mutated(FLAVORS))
def test_flavors_document(document):
    check(parse_flavors, document, 'flavors')


@SETTINGS
@given(mutated([ALIAS, json.dumps(ALIAS)]) | st.lists(st.text(max_size=60), max_size=3))
def test_aliases(raw):
    if isinstance(raw, list):
        check(parse_aliases, raw)


@SETTINGS
@given(st.sampled_from(['0-300000000', '^0-300000000', '7-300000000,1', '0-16383,' * 50,
                        '99999999999999999999999', [300000000], [2 ** 64], '0-', '-', '^'])
       | st.text(alphabet='0123456789-^, ²٣x', max_size=60) | values)
def test_cpuset(raw):
    check(parse_cpuset, raw)


@SETTINGS
@given(values)
def test_integer_and_string_readers(raw):
    check(fields.integer, raw, 'f')
    check(fields.string, raw, 'f')


@settings(SETTINGS, max_examples=60)
@given(st.sampled_from(['fleet.json', 'fleet.yaml']),
       st.text(max_size=200) | st.sampled_from(['[' * 100000, '- ' * 30000 + 'x', '9' * 5000,
                                                '!!int abc', 'd: 2001-13-45', '!!float x',
                                                '{"version": 1, "hosts": ["h"]}']))
def test_document_files(tmp_path_factory, name, text):
    path = tmp_path_factory.mktemp('doc') / name
    path.write_text(text, encoding='utf-8', errors='surrogatepass')
    check(load_document, str(path))


SWEPT = {
    'host': (lambda raw: HostTopology.from_dict(raw, 'host'), HOST),
    'assignment': (lambda raw: Assignment.from_dict(raw, 'assignment'), ASSIGNMENT),
    'request': (lambda raw: parse_request(raw, parse_aliases([ALIAS]), FLAVORS['flavors']),
                REQUEST),
    'flavors': (lambda raw: parse_flavors(raw, 'flavors'), FLAVORS),
}


@pytest.mark.parametrize('name', sorted(SWEPT))
def test_every_place_with_every_hostile_value(name):
    """The systematic half: each HOSTILE value at each place of a valid document."""
    parser, document = SWEPT[name]
    for path in _paths(document):
        for value in HOSTILE:
            check(parser, _replace(document, path, value))
