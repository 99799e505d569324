"""wire.networks: the traits a request's normal ports need."""

from wire.networks import physnet_trait, port_traits, vlan_trait
from wire.request_spec import PortRequest


def test_trait_names():
    assert physnet_trait('physnet1') == 'CUSTOM_PHYSNET_PHYSNET1'
    assert physnet_trait('tenant-net.2') == 'CUSTOM_PHYSNET_TENANT_NET_2'
    assert vlan_trait('tenant') == 'CUSTOM_PHYSNET_TENANT_VLAN'


def test_only_normal_ports_on_a_network_need_traits():
    ports = (PortRequest(), PortRequest(physical_network='ext'),
             PortRequest(physical_network='tenant', vlan=100),
             PortRequest(vnic_type='direct', physical_network='sriov'))
    assert port_traits(ports) == {'CUSTOM_PHYSNET_EXT', 'CUSTOM_PHYSNET_TENANT',
                                  'CUSTOM_PHYSNET_TENANT_VLAN'}
