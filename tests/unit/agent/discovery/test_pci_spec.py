"""[pci] device_spec: Nova's whitelist syntax and matching rules."""

import pytest

from agent.discovery.nodedev import NodePciDevice
from agent.discovery.pci_spec import parse_device_specs
from agent.exceptions import InvalidConfig

PF = NodePciDevice(name='pf', address='0000:05:00.1', vendor_id='8086', product_id='10c9',
                   vf_addresses=('0000:05:10.1',), sriov_capable=True)
VF = NodePciDevice(name='vf', address='0000:05:10.1', vendor_id='8086', product_id='10ca',
                   pf_address='0000:05:00.1')
NIC = NodePciDevice(name='nic', address='0000:00:19.0', vendor_id='8086', product_id='1502')
GPU = NodePciDevice(name='gpu', address='0001:3b:00.0', vendor_id='10de', product_id='13f2')
ALL = (PF, VF, NIC, GPU)


def _matched(spec):
    [parsed] = parse_device_specs([spec])
    return {device.name for device in ALL if parsed.matches(device)}


@pytest.mark.parametrize('spec, names', [
    ('{}', {'pf', 'vf', 'nic', 'gpu'}),
    ('{"vendor_id": "8086"}', {'pf', 'vf', 'nic'}),
    ('{"vendor_id": "*", "product_id": "13F2"}', {'gpu'}),
    ('{"vendor_id": "8086", "product_id": "10ca"}', {'vf'}),
    ('{"address": "0000:05:00.1"}', {'pf', 'vf'}),          # a PF address covers its VFs
    ('{"address": "0000:05:00.1", "product_id": "10c9"}', {'pf'}),
    ('{"address": "0000:05:10.1"}', {'vf'}),
    ('{"address": "0000:05:00.*"}', {'pf', 'vf'}),
    ('{"address": "*:05:*.*"}', {'pf', 'vf'}),
    ('{"address": ":05:00."}', {'pf', 'vf'}),
    ('{"address": "05:00.1"}', {'pf', 'vf'}),               # domain omitted
    ('{"address": "19.0"}', {'nic'}),                        # slot.function only
    ('{"address": "1:3b:0.0"}', {'gpu'}),                    # unpadded hex
    ('{"address": "0000:05:00.0"}', set()),
    ('{"address": {"domain": ".*", "bus": "0[05]", "slot": "1[09]", "function": "[0-7]"}}',
     {'vf', 'nic'}),
    ('{"address": {"bus": "3B"}}', {'gpu'}),
    ('[{"vendor_id": "10de"}, {"product_id": "1502"}]', None),
])
def test_matching(spec, names):
    if names is None:   # a JSON list holds several specs
        specs = parse_device_specs([spec])
        assert [{d.name for d in ALL if s.matches(d)} for s in specs] == [{'gpu'}, {'nic'}]
        return
    assert _matched(spec) == names


def test_physical_network_is_kept():
    [spec] = parse_device_specs(['{"vendor_id": "8086", "physical_network": "physnet1",'
                                 ' "trusted": "true"}'])
    assert spec.physical_network == 'physnet1'


@pytest.mark.parametrize('spec, rule', [
    ('{"vendor_id": ', 'not JSON'),
    ('"8086"', 'expected a JSON object'),
    ('{"devname": "eth0"}', 'devname is not supported'),
    ('{"vendor_id": "80861"}', "vendor_id '80861' is not up to 4 hex digits"),
    ('{"product_id": 4242}', 'product_id 4242'),
    ('{"address": "0000:05:00:00.0"}', 'more than domain:bus:slot'),
    ('{"address": "0000:05:20.0"}', "slot '20' is above 1f"),
    ('{"address": "0000:05:00.8"}', "function '8' is above 7"),
    ('{"address": "0000:zz:00.0"}', "bus 'zz' is not hex"),
    ('{"address": {"bus": "("}}', 'address bus regex'),
    ('{"address": {"port": "1"}}', "address keys \\['port'\\]"),
    ('{"address": 5}', 'address is a string or an object'),
    ('{"physical_network": ""}', 'physical_network must be a non-empty string'),
])
def test_bad_specs_name_the_entry_and_rule(spec, rule):
    with pytest.raises(InvalidConfig, match=rule) as caught:
        parse_device_specs(['{}', spec])
    assert caught.value.option == '[pci] device_spec[1]'
