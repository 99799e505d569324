"""agent.network: [network] bridge mappings, their checks and the traits they give."""

import pytest
from oslo_config import cfg

from agent import network
from agent.exceptions import InvalidConfig
from agent.network import Bridge, HostNetworks, networks_from_conf


@pytest.fixture
def conf():
    private = cfg.ConfigOpts()
    network.register_opts(private)
    private([], project='kvmfleet-test', default_config_files=[])
    return private


def test_mappings_and_traits(conf):
    conf.set_override('linux_bridge_mappings', ['physnet1:br-ex'], 'network')
    conf.set_override('ovs_bridge_mappings', ['tenant-net:br-int'], 'network')
    conf.set_override('default_physical_network', 'physnet1', 'network')
    found = networks_from_conf(conf)
    assert found == HostNetworks({'physnet1': Bridge('br-ex', 'linux'),
                                  'tenant-net': Bridge('br-int', 'ovs')}, 'physnet1')
    assert found.traits() == {'CUSTOM_PHYSNET_PHYSNET1', 'CUSTOM_PHYSNET_TENANT_NET',
                              'CUSTOM_PHYSNET_TENANT_NET_VLAN'}


def test_nothing_mapped(conf):
    assert networks_from_conf(conf) == HostNetworks()
    assert HostNetworks().traits() == frozenset()


@pytest.mark.parametrize('linux, ovs, default, words', [
    (['physnet1'], [], None, "'physnet1' is not physical_network:bridge"),
    (['physnet1:a-bridge-name-too-long'], [], None, 'a bridge name of 1-15'),
    (['phys/net:br0'], [], None, 'is not physical_network:bridge'),
    (['physnet1:br0'], ['physnet1:br1'], None, "'physnet1' is mapped twice"),
    (['physnet1:br0'], [], 'other', "'other' is not a mapped physical network"),
])
def test_bad_mappings_name_the_option(conf, linux, ovs, default, words):
    conf.set_override('linux_bridge_mappings', linux, 'network')
    conf.set_override('ovs_bridge_mappings', ovs, 'network')
    conf.set_override('default_physical_network', default, 'network')
    with pytest.raises(InvalidConfig, match='network'):
        try:
            networks_from_conf(conf)
        except InvalidConfig as exc:
            assert words in str(exc)
            raise


def test_a_simulated_host_bridges_the_networks_its_traits_name():
    bridges = network.TraitBridges({'CUSTOM_PHYSNET_PHYSNET1', 'CUSTOM_PHYSNET_TENANT',
                                    'CUSTOM_PHYSNET_TENANT_VLAN'})
    assert bridges.get('physnet1') == Bridge('kfsim-br0', 'linux')
    assert bridges.get('tenant') == Bridge('kfsim-br0', 'ovs')
    assert bridges.get('other') is None
