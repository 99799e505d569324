"""Host networks for normal ports: ``[network]`` bridge mappings, checked once.

``linux_bridge_mappings = physnet1:br-ex`` plugs normal ports on physnet1 into
the Linux bridge br-ex (``<interface type='bridge'>``);
``ovs_bridge_mappings = physnet2:br-int`` into the Open vSwitch bridge br-int
(with ``<virtualport type='openvswitch'>``, and VLAN tags).  A normal port
that names no network goes to ``default_physical_network`` when set, else to a
bare tap that nothing connects (what it was before: say so in the docs).
Discovery reports the networks as traits (wire.networks); the domain builder
plugs ports from the same value.
"""

import dataclasses
import re

from oslo_config import cfg

from agent.exceptions import InvalidConfig
from wire import networks
from wire import opts as wire_opts

LINUX, OVS = 'linux', 'ovs'
# Linux interface names: up to 15 characters, no '/', ':' or whitespace.
_BRIDGE_NAME = re.compile(r'^[A-Za-z0-9_.-]{1,15}$')
_PHYSNET_NAME = re.compile(r'^[A-Za-z0-9_.-]{1,64}$')

network_opts = [
    cfg.ListOpt('linux_bridge_mappings', default=[],
                help='physical_network:bridge pairs: normal ports on that network are plugged '
                     'into that Linux bridge (which must exist).'),
    cfg.ListOpt('ovs_bridge_mappings', default=[],
                help='physical_network:bridge pairs: normal ports on that network are plugged '
                     'into that Open vSwitch bridge; their VLAN, if any, is tagged there.'),
    cfg.StrOpt('default_physical_network',
               help='The network of normal ports that name none (one of the mapped '
                    'networks). Unset: such ports get a tap device that nothing connects.'),
]
GROUPS = (('network', network_opts),)


def register_opts(conf):
    wire_opts.register_groups(conf, GROUPS)


def list_opts():
    return wire_opts.listing(GROUPS)


register_opts(cfg.CONF)


@dataclasses.dataclass(frozen=True, slots=True)
class Bridge:
    name: str
    kind: str          # LINUX or OVS


@dataclasses.dataclass(frozen=True, slots=True)
class HostNetworks:
    """physical network -> Bridge, and the network of ports that name none."""

    bridges: dict = dataclasses.field(default_factory=dict)
    default_physical_network: str | None = None

    def traits(self):
        found = {networks.physnet_trait(physnet) for physnet in self.bridges}
        found |= {networks.vlan_trait(physnet) for physnet, bridge in self.bridges.items()
                  if bridge.kind == OVS}
        return frozenset(found)


class TraitBridges:
    """Bridges of a simulated host: one for each network its fleet-file traits name.

    A simulated host says what it bridges by its ``CUSTOM_PHYSNET_*`` traits (the
    names are upper-cased there); its ports are plugged into a bridge that exists
    only in libvirt's test driver, OVS where the host has the VLAN trait.
    """

    SIMULATED_BRIDGE = 'kfsim-br0'

    def __init__(self, traits):
        self.traits = frozenset(traits)

    def get(self, physnet, default=None):
        if networks.physnet_trait(physnet) not in self.traits:
            return default
        kind = OVS if networks.vlan_trait(physnet) in self.traits else LINUX
        return Bridge(self.SIMULATED_BRIDGE, kind)

    def __iter__(self):      # the physical networks are not known by name, only by trait
        return iter(())


def networks_from_conf(conf=cfg.CONF):
    """HostNetworks from ``[network]``; InvalidConfig names the bad entry."""
    bridges = {}
    for kind, option in ((LINUX, 'linux_bridge_mappings'), (OVS, 'ovs_bridge_mappings')):
        for entry in getattr(conf.network, option):
            physnet, bridge = _mapping(entry, f"[network] {option}")
            if physnet in bridges:
                raise InvalidConfig(f"[network] {option}",
                                    f"physical network {physnet!r} is mapped twice")
            bridges[physnet] = Bridge(bridge, kind)
    default = conf.network.default_physical_network
    if default is not None and default not in bridges:
        raise InvalidConfig('[network] default_physical_network',
                            f"{default!r} is not a mapped physical network")
    return HostNetworks(bridges, default)


def _mapping(entry, option):
    physnet, sep, bridge = entry.strip().partition(':')
    if not sep or not _PHYSNET_NAME.match(physnet) or not _BRIDGE_NAME.match(bridge):
        raise InvalidConfig(option, f"{entry!r} is not physical_network:bridge (names of "
                                    'letters, digits, _ . -; a bridge name of 1-15)')
    return physnet, bridge
