"""Which hosts can plug a normal port into its network: physical network traits.

An agent maps physical networks to host bridges (``[network]
linux_bridge_mappings`` / ``ovs_bridge_mappings``, Neutron's style) and reports
one trait per network it bridges, plus a VLAN trait where the bridge is Open
vSwitch (libvirt tags VLANs on OVS ports only).  A request's normal ports
require the traits of their networks, so a port is only placed where the
agent can plug it.  Names are upper-cased with other characters turned to
``_`` (``physnet-1`` and ``physnet_1`` are the same trait: avoid such pairs).
"""

import re

PHYSNET_TRAIT_PREFIX = 'CUSTOM_PHYSNET_'
VLAN_TRAIT_SUFFIX = '_VLAN'
_NOT_TRAIT = re.compile(r'[^A-Z0-9]')


def physnet_trait(physnet):
    """The trait of a host that bridges ``physnet``."""
    return PHYSNET_TRAIT_PREFIX + _NOT_TRAIT.sub('_', physnet.upper())


def vlan_trait(physnet):
    """The trait of a host that can tag VLANs on ``physnet`` (an OVS bridge)."""
    return physnet_trait(physnet) + VLAN_TRAIT_SUFFIX


def port_traits(ports, normal='normal'):
    """Traits the normal ports of a request need (their networks, VLAN tagging)."""
    traits = set()
    for port in ports:
        if port.vnic_type != normal or not port.physical_network:
            continue
        traits.add(physnet_trait(port.physical_network))
        if port.vlan is not None:
            traits.add(vlan_trait(port.physical_network))
    return frozenset(traits)
