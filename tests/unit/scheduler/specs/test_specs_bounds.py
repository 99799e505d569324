"""Hostile request values from issue 9: each is one clear error naming the field and rule."""

import pytest

from scheduler.specs import parse_aliases, parse_request
from tests.unit.scheduler.specs.helpers import ALIASES
from wire.errors import InvalidInput
from wire.names import INSTANCE_NAME_RULE

BASE = {'name': 'vm', 'vcpus': 2, 'memory_mb': 512}
MACHINE_RULE = ("1-64 ASCII letters, digits, '.', '_' and '-', starting with a letter or "
                'digit')

CASES = [
    (dict(BASE, vcpus='²'), "vcpus: '²' is not an integer (ASCII digits 0-9 only)"),
    (dict(BASE, vcpus='--5'), "vcpus: '--5' is not an integer"),
    (dict(BASE, vcpus=' 5 '), "vcpus: ' 5 ' is not an integer"),
    (dict(BASE, vcpus=2 ** 63), 'vcpus: 9223372036854775808 is above the maximum 4096'),
    (dict(BASE, vcpus=300000000, extra_specs={'hw:cpu_policy': 'dedicated'}),
     'vcpus: 300000000 is above the maximum 4096'),
    (dict(BASE, count=30000000), 'count: 30000000 is above the maximum 1000'),
    (dict(BASE, extra_specs={'hw:numa_nodes': '²'}),
     "extra_specs.hw:numa_nodes: '²' is not a whole number from 1 to 128"),
    (dict(BASE, extra_specs={'pci_passthrough:alias': 'igb-vf:²'}),
     "extra_specs.pci_passthrough:alias: 'igb-vf:²' is not name:count (count a whole number "
     '>= 1 and <= 4096, ASCII digits)'),
    (dict(BASE, extra_specs={'hw:numa_nodes': '1', 'hw:numa_cpus.0': '0-1',
                             'hw:numa_mem.0': '٥١٢'}),
     "extra_specs.hw:numa_mem.0: '٥١٢' is not a memory size in MB (a whole number from 1 to "
     '16777216, ASCII digits)'),
    (dict(BASE, extra_specs={'hw:mem_page_size': '٢MB'}),
     "extra_specs.hw:mem_page_size: '٢MB' is not a page size (small, large, any, a size in "
     'KiB such as 2048, or 2MB / 1GB)'),
    (dict(BASE, name='vm\ud800'), f"name: 'vm\\ud800' contains U+D800 (Cs): "
                                  f'{INSTANCE_NAME_RULE}'),
    (dict(BASE, name='vm\x00'), f"name: 'vm\\x00' contains U+0000 (Cc): {INSTANCE_NAME_RULE}"),
    (dict(BASE, image_properties={'hw_machine_type': "q35'/><x"}),
     "image_properties.hw_machine_type: \"q35'/><x\" is not a machine type: " + MACHINE_RULE),
    (dict(BASE, image='../../etc'),
     "image: '../../etc' is not an image name: 1-255 ASCII letters, digits, '.', '_' and '-', "
     'starting with a letter or digit'),
    (dict(BASE, extra_specs={'hw:cpu_sockets': '²'}),
     "extra_specs.hw:cpu_sockets: '²' is not a positive integer of at most 6 digits"),
    (dict(BASE, image_properties={'hw_cpu_cores': '9' * 30}),
     "image_properties.hw_cpu_cores: '999999999999999999999999999999' is not a positive "
     'integer of at most 6 digits'),
    (dict(BASE, extra_specs={'quota:x': [1]}),
     'extra_specs.quota:x: [1] is not a string, number or boolean'),
    (dict(BASE, extra_specs={'quota:x': 2 ** 100}),
     'extra_specs.quota:x: 1267650600228229401496703205376 is not a string, number or boolean'),
    (dict(BASE, extra_specs={'quota:x': 'a\x1bb'}),
     "extra_specs.quota:x: 'a\\x1bb' contains the character U+001B: control, surrogate and "
     'bidirectional-override characters are not allowed'),
    (dict(BASE, ports=[{'vnic_type': 'direct', 'physical_network': 'p\x00'}]),
     "ports[0].physical_network: 'p\\x00' is not a network name"),
]


@pytest.mark.parametrize('raw, message', CASES)
def test_hostile_requests_get_one_clear_error(raw, message):
    with pytest.raises(InvalidInput) as caught:
        parse_request(raw, ALIASES)
    assert str(caught.value) == message


@pytest.mark.parametrize('machine', ['q35', 'pc-q35-8.2', 'pc-i440fx-7.2', 'virt'])
def test_real_machine_types_are_accepted(machine):
    spec = parse_request(dict(BASE, image_properties={'hw_machine_type': machine}))
    assert spec.image_properties['hw_machine_type'] == machine


def test_alias_json_nested_too_deeply_is_an_error():
    with pytest.raises(InvalidInput) as caught:
        parse_aliases(['[' * 100000])
    assert str(caught.value) == 'pci.alias[0]: not valid JSON: nested too deeply'
