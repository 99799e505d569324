"""PCI passthrough and SR-IOV ports.

* ``pci_passthrough:alias`` = ``name:count[,name2:count2]``: each name must be
  a configured alias (see ``aliases``), each count a whole number >= 1; a
  name listed twice adds its counts.
* ``hw:pci_numa_affinity_policy`` / ``hw_pci_numa_affinity_policy``:
  required | legacy | preferred | socket; flavor and image must agree when
  both are set.  When set it applies to every PCI request and port; when
  unset each alias request takes its alias' ``numa_policy`` and ports take
  ``legacy`` (Nova's behaviour).
* ports: ``[{vnic_type, physical_network, mac_address, vlan}]``; a
  ``direct`` port asks for one VF on ``physical_network``.
"""

import re

from scheduler.specs import sources as src
from scheduler.specs.aliases import NUMA_POLICIES
from wire import fields
from wire import request_spec as rs
from wire.errors import shown
from wire.limits import DEFAULT

ALIAS_KEY = 'pci_passthrough:alias'
VNIC_NORMAL, VNIC_DIRECT = 'normal', 'direct'
VNIC_TYPES = (VNIC_NORMAL, VNIC_DIRECT)
# Nova vnic types that need devices kvmfleet does not assign yet.
UNSUPPORTED_VNIC_TYPES = ('macvtap', 'direct-physical', 'virtio-forwarder', 'vdpa',
                          'smart-nic', 'remote-managed', 'baremetal', 'accelerator-direct',
                          'accelerator-direct-physical')
_MAC = re.compile(r'^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$')
MAX_VLAN = 4094


def parse_pci_numa_policy(sources, errors):
    """The request-wide PCI NUMA affinity policy, None when neither side sets it."""
    flavor = src.flavor_choice(sources, 'hw:pci_numa_affinity_policy', NUMA_POLICIES, errors)
    image = src.image_choice(sources, 'hw_pci_numa_affinity_policy', NUMA_POLICIES, errors)
    return src.unique('hw:pci_numa_affinity_policy', flavor,
                      'hw_pci_numa_affinity_policy', image, errors)


def parse_pci_requests(sources, aliases, policy, errors):
    """PciRequest tuple from ``pci_passthrough:alias`` (policy overrides the alias')."""
    text = sources.flavor(ALIAS_KEY)
    if text is None:
        return ()
    field = src.flavor_field(ALIAS_KEY)
    counts = {}
    for item in text.split(','):
        name, sep, count = (part.strip() for part in item.partition(':'))
        if not name or not sep or not _is_count(count, sources.limits.max_pci_devices):
            errors.add(field, f'{item.strip()!r} is not name:count (count a whole number >= 1 '
                              f'and <= {sources.limits.max_pci_devices}, ASCII digits)')
            continue
        if name not in (aliases or {}):
            known = ', '.join(sorted(aliases or {})) or 'none configured'
            errors.add(field, f'alias {name!r} is not defined (known aliases: {known})')
            continue
        counts[name] = counts.get(name, 0) + int(count)
    return tuple(_request(aliases[name], count, policy) for name, count in counts.items())


def _is_count(text, maximum):
    return text.isascii() and text.isdigit() and len(text) <= 20 and 1 <= int(text) <= maximum


def _request(alias, count, policy):
    return rs.PciRequest(alias=alias.name, count=count, vendor_id=alias.vendor_id,
                         product_id=alias.product_id, device_type=alias.device_type,
                         numa_policy=policy or alias.numa_policy)


def parse_ports(raw_ports, errors, field='ports', limits=DEFAULT):
    """PortRequest tuple; a direct port must name its physical network."""
    if raw_ports is None:
        return ()
    if not isinstance(raw_ports, list):
        errors.add(field, 'expected a list of ports')
        return ()
    if len(raw_ports) > limits.max_ports:
        errors.add(field, f'has {len(raw_ports)} ports, more than the maximum {limits.max_ports}')
        return ()
    ports = []
    for index, raw in enumerate(raw_ports):
        port = _port(raw, f'{field}[{index}]', errors, limits)
        if port is not None:
            ports.append(port)
    return tuple(ports)


def _port(raw, field, errors, limits):
    if not isinstance(raw, dict):
        errors.add(field, 'expected an object {vnic_type, physical_network, ...}')
        return None
    before = len(errors.errors)
    vnic_type = raw.get('vnic_type', VNIC_NORMAL)
    if vnic_type in UNSUPPORTED_VNIC_TYPES:
        errors.add(f'{field}.vnic_type', f'{vnic_type!r} is a Nova vnic type kvmfleet does '
                                         f'not support (supported: {", ".join(VNIC_TYPES)})')
    elif vnic_type not in VNIC_TYPES:
        errors.add(f'{field}.vnic_type', f'{shown(vnic_type)} is not one of '
                                         f'{", ".join(VNIC_TYPES)}')
    physnet = raw.get('physical_network')
    if physnet is not None and (not isinstance(physnet, str) or not physnet.strip()
                                or fields.text_problem(physnet, limits.max_string_length)):
        errors.add(f'{field}.physical_network', f'{shown(physnet)} is not a network name')
    elif vnic_type == VNIC_DIRECT and physnet is None:
        errors.add(f'{field}.physical_network', 'is required for vnic_type direct (the VF '
                                                'comes from a PF on that network)')
    mac = raw.get('mac_address')
    if mac is not None and (not isinstance(mac, str) or not _MAC.match(mac)):
        errors.add(f'{field}.mac_address',
                   f'{shown(mac)} is not a MAC address like fa:16:3e:00:00:01')
    vlan = raw.get('vlan')
    if vlan is not None and (isinstance(vlan, bool) or not isinstance(vlan, int)
                             or not 1 <= vlan <= MAX_VLAN):
        errors.add(f'{field}.vlan', f'{shown(vlan)} is not a VLAN id from 1 to {MAX_VLAN}')
    elif vlan is not None and vnic_type == VNIC_NORMAL and physnet is None:
        errors.add(f'{field}.vlan', 'a VLAN on a normal port needs its physical_network '
                                    '(the Open vSwitch bridge that tags it)')
    if len(errors.errors) > before:
        return None
    return rs.PortRequest(vnic_type, physnet, mac.lower() if mac else None, vlan)
