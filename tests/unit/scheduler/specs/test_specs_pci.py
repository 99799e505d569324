"""PCI aliases, pci_passthrough:alias, PCI NUMA affinity policy, ports."""

import json

import pytest

from scheduler.specs import parse_aliases
from tests.unit.scheduler.specs.helpers import assert_error, parse, request
from wire.errors import InvalidInput
from wire.request_spec import PciRequest, PortRequest


def test_parse_aliases_reads_nova_json_and_dicts():
    aliases = parse_aliases([
        '{"name": " nic ", "vendor_id": "8086", "product_id": "10CA", '
        '"device_type": "type-VF", "numa_policy": "socket"}',
        {'name': 'gpu', 'vendor_id': '10de', 'product_id': '1db4', 'capability_type': 'pci'},
    ])
    assert aliases['nic'].product_id == '10ca' and aliases['nic'].numa_policy == 'socket'
    assert aliases['gpu'].device_type is None and aliases['gpu'].numa_policy == 'legacy'
    assert aliases['gpu'].to_dict() == {'name': 'gpu', 'vendor_id': '10de',
                                        'product_id': '1db4', 'numa_policy': 'legacy'}
    assert parse_aliases([]) == {}


@pytest.mark.parametrize('value,field,words', [
    ('{"name": "a", "vendor_id": "8086"', 'pci.alias[0]', ('not valid JSON',)),
    ('[1, 2]', 'pci.alias[0]', ('JSON object',)),
    ({'vendor_id': '8086', 'product_id': '10ca'}, 'pci.alias[0].name', ('required',)),
    ({'name': 'a', 'vendor_id': '80861', 'product_id': '10ca'}, 'pci.alias[0].vendor_id',
     ("'80861'", 'hex')),
    ({'name': 'a', 'vendor_id': '8086'}, 'pci.alias[0].product_id', ('None',)),
    ({'name': 'a', 'vendor_id': '8086', 'product_id': 'zzzz'}, 'pci.alias[0].product_id',
     ("'zzzz'",)),
    ({'name': 'a', 'vendor_id': '8086', 'product_id': '10ca', 'device_type': 'type-VDPA'},
     'pci.alias[0].device_type', ("'type-VDPA'",)),
    ({'name': 'a', 'vendor_id': '8086', 'product_id': '10ca', 'numa_policy': 'strict'},
     'pci.alias[0].numa_policy', ("'strict'",)),
    ({'name': 'a', 'vendor_id': '8086', 'product_id': '10ca', 'device_id': '1'},
     'pci.alias[0].device_id', ('not an alias field',)),
    ({'name': 'a', 'vendor_id': '8086', 'product_id': '10ca', 'capability_type': 'usb'},
     'pci.alias[0].capability_type', ("'usb'",)),
])
def test_bad_aliases(value, field, words):
    with pytest.raises(InvalidInput) as caught:
        parse_aliases([value])
    rules = [e.rule for e in caught.value.errors if e.field == field]
    assert any(all(w in r for w in words) for r in rules), caught.value.to_list()


def test_alias_names_must_be_unique():
    spec = {'name': 'a', 'vendor_id': '8086', 'product_id': '10ca'}
    with pytest.raises(InvalidInput) as caught:
        parse_aliases([json.dumps(spec), spec])
    assert caught.value.to_list() == [{'field': 'pci.alias[1].name',
                                       'rule': "'a' is defined twice; each alias name must "
                                               "be unique"}]


@pytest.mark.parametrize('alias_spec,extra,image,expected', [
    ('igb-vf:2', {}, None, [('igb-vf', 2, 'preferred')]),
    ('cx6-vf:1', {}, None, [('cx6-vf', 1, 'legacy')]),
    ('igb-vf:1, gpu:1', {}, None, [('igb-vf', 1, 'preferred'), ('gpu', 1, 'required')]),
    ('igb-vf:1,igb-vf:2', {}, None, [('igb-vf', 3, 'preferred')]),
    # A flavor or image policy overrides the alias' own numa_policy.
    ('igb-vf:1,gpu:1', {'hw:pci_numa_affinity_policy': 'legacy'}, None,
     [('igb-vf', 1, 'legacy'), ('gpu', 1, 'legacy')]),
    ('gpu:2', {}, {'hw_pci_numa_affinity_policy': 'socket'}, [('gpu', 2, 'socket')]),
    ('gpu:2', {'hw:pci_numa_affinity_policy': 'preferred'},
     {'hw_pci_numa_affinity_policy': 'preferred'}, [('gpu', 2, 'preferred')]),
])
def test_pci_requests(alias_spec, extra, image, expected):
    spec = parse({'pci_passthrough:alias': alias_spec, **extra}, image)
    assert [(r.alias, r.count, r.numa_policy) for r in spec.pci_requests] == expected
    assert all(isinstance(r, PciRequest) for r in spec.pci_requests)


def test_pci_request_carries_the_alias_device():
    (pci,) = parse({'pci_passthrough:alias': 'cx6-vf:1'}).pci_requests
    assert (pci.vendor_id, pci.product_id, pci.device_type) == ('15b3', '101e', 'type-VF')


@pytest.mark.parametrize('extra,image,expected', [
    ({}, None, 'legacy'),
    ({'hw:pci_numa_affinity_policy': 'required'}, None, 'required'),
    ({}, {'hw_pci_numa_affinity_policy': 'preferred'}, 'preferred'),
    ({'hw:pci_numa_affinity_policy': 'socket'}, None, 'socket'),
    ({'hw:pci_numa_affinity_policy': 'socket'}, {'hw_pci_numa_affinity_policy': 'socket'},
     'socket'),
])
def test_request_wide_pci_numa_policy(extra, image, expected):
    assert parse(extra, image).pci_numa_affinity_policy == expected


@pytest.mark.parametrize('extra,image,field,words', [
    ({'pci_passthrough:alias': 'nope:1'}, None, 'extra_specs.pci_passthrough:alias',
     ("'nope' is not defined", 'igb-vf')),
    ({'pci_passthrough:alias': 'igb-vf'}, None, 'extra_specs.pci_passthrough:alias',
     ("'igb-vf' is not name:count",)),
    ({'pci_passthrough:alias': 'igb-vf:0'}, None, 'extra_specs.pci_passthrough:alias',
     ('>= 1',)),
    ({'pci_passthrough:alias': 'igb-vf:x'}, None, 'extra_specs.pci_passthrough:alias',
     ("'igb-vf:x'",)),
    ({'pci_passthrough:alias': 'igb-vf:1,'}, None, 'extra_specs.pci_passthrough:alias',
     ("''",)),
    ({'hw:pci_numa_affinity_policy': 'strict'}, None,
     'extra_specs.hw:pci_numa_affinity_policy', ("'strict'", 'socket')),
    ({}, {'hw_pci_numa_affinity_policy': 'x'}, 'image_properties.hw_pci_numa_affinity_policy',
     ("'x'",)),
    ({'hw:pci_numa_affinity_policy': 'required'}, {'hw_pci_numa_affinity_policy': 'legacy'},
     'image_properties.hw_pci_numa_affinity_policy', ('conflicts', "'required'")),
    ({'hw:pci_numa_affinity_policy': 'socket'}, {'hw_pci_numa_affinity_policy': 'required'},
     'image_properties.hw_pci_numa_affinity_policy', ('conflicts', "'socket'")),
    ({'pci_passthrough:foo': 'x'}, None, 'extra_specs.pci_passthrough:foo',
     ('not a pci_passthrough: key',)),
])
def test_pci_errors(extra, image, field, words):
    assert_error(request(extra, image), field, *words)


def test_alias_requests_without_configured_aliases_are_refused():
    assert_error(request({'pci_passthrough:alias': 'igb-vf:1'}),
                 'extra_specs.pci_passthrough:alias', 'none configured', aliases=None)


@pytest.mark.parametrize('ports,expected', [
    (None, ()),
    ([], ()),
    ([{}], (PortRequest(),)),
    ([{'vnic_type': 'normal'}], (PortRequest('normal'),)),
    ([{'vnic_type': 'direct', 'physical_network': 'physnet1'}],
     (PortRequest('direct', 'physnet1'),)),
    ([{'vnic_type': 'direct', 'physical_network': 'physnet2', 'mac_address': 'FA:16:3E:00:00:01',
       'vlan': 100}], (PortRequest('direct', 'physnet2', 'fa:16:3e:00:00:01', 100),)),
    ([{'vnic_type': 'direct', 'physical_network': 'a'}, {'vnic_type': 'normal'}],
     (PortRequest('direct', 'a'), PortRequest('normal'))),
])
def test_ports(ports, expected):
    assert parse(ports=ports).ports == expected


@pytest.mark.parametrize('ports,field,words', [
    ({'vnic_type': 'direct'}, 'ports', ('list',)),
    (['direct'], 'ports[0]', ('object',)),
    ([{'vnic_type': 'direct'}], 'ports[0].physical_network', ('required', 'direct')),
    ([{'vnic_type': 'sriov'}], 'ports[0].vnic_type', ("'sriov'", 'normal, direct')),
    ([{'vnic_type': 'macvtap', 'physical_network': 'p'}], 'ports[0].vnic_type',
     ("'macvtap'", 'does not support')),
    ([{'vnic_type': 'direct', 'physical_network': ''}], 'ports[0].physical_network',
     ("''",)),
    ([{'mac_address': 'fa:16:3e'}], 'ports[0].mac_address', ("'fa:16:3e'",)),
    ([{'vlan': 4095}], 'ports[0].vlan', ('4095', '1 to 4094')),
    ([{'vlan': '10'}], 'ports[0].vlan', ("'10'",)),
    ([{}, {'vnic_type': 'direct'}], 'ports[1].physical_network', ('required',)),
    ([{'vlan': 10}], 'ports[0].vlan', ('needs its physical_network', 'Open vSwitch')),
])
def test_port_errors(ports, field, words):
    assert_error(request(ports=ports), field, *words)


def test_normal_ports_require_hosts_that_bridge_their_network():
    spec = parse(ports=[{'physical_network': 'ext'}, {'physical_network': 'tenant', 'vlan': 7},
                        {'vnic_type': 'direct', 'physical_network': 'sriov'}, {}])
    assert spec.required_traits == {'CUSTOM_PHYSNET_EXT', 'CUSTOM_PHYSNET_TENANT',
                                    'CUSTOM_PHYSNET_TENANT_VLAN'}
