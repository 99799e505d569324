"""Options that shape what the agent reports about its host.

Names and groups follow Nova where Nova has the option, with Nova's meaning.
``settings_from_conf`` checks them once and turns them into HostSettings;
every mistake raises InvalidConfig naming the option and the rule.
"""

import dataclasses
import re

from oslo_config import cfg, types

from agent import network
from agent.discovery import pci_spec
from agent.exceptions import InvalidConfig
from agent.network import HostNetworks, networks_from_conf
from wire import opts as wire_opts
from wire.cpuset import CpuSetError, parse_cpuset

VIRT_TYPES = ('kvm', 'qemu', 'auto')

compute_opts = [
    cfg.StrOpt('cpu_dedicated_set',
               help="Host CPUs for pinned guest vCPUs (hw:cpu_policy=dedicated), e.g. "
                    "'4-15,^8'. A CPU in neither this nor cpu_shared_set is not used "
                    "for guests. Unset together with cpu_shared_set: no dedicated CPUs."),
    cfg.StrOpt('cpu_shared_set',
               help="Host CPUs for floating (unpinned) guest vCPUs and shared emulator "
                    "threads. If neither this nor cpu_dedicated_set is set, every host "
                    "CPU is shared (Nova's default)."),
]

default_opts = [
    cfg.IntOpt('reserved_host_memory_mb', default=512, min=0,
               help="Small-page memory kept for the host, in MiB, spread evenly over "
                    "the NUMA cells (the remainder MiB go to the lowest cell ids)."),
    cfg.MultiOpt('reserved_huge_pages', item_type=types.Dict(),
                 help="Hugepages kept for the host, one 'node:0,size:2048,count:64' per "
                      "entry; size in KiB or with a unit (2MB, 1GB)."),
]

pci_opts = [
    cfg.MultiStrOpt('device_spec', default=[],
                    help="PCI devices guests may use, one JSON object (or list) per "
                         "entry: vendor_id, product_id, address ('0000:05:00.*' or a "
                         "{domain,bus,slot,function} regex object) and physical_network. "
                         "An address matching a PF also matches its VFs. Devices no "
                         "entry matches are not reported."),
]

libvirt_opts = [
    cfg.StrOpt('connection_uri', default='qemu:///system',
               help='libvirt URI the agent connects to.'),
    cfg.StrOpt('virt_type', default='kvm', choices=VIRT_TYPES,
               help="kvm (hardware virtualisation), qemu (TCG emulation) or auto (kvm "
                    "when libvirt offers it, else qemu). Nested KVM may accept 'kvm' "
                    "and still fail real guests: set qemu there."),
    cfg.IntOpt('num_memory_encrypted_guests', min=0,
               help='Upper bound on SEV guests; the smaller of this and what libvirt '
                    'reports (maxGuests) is used. Needed when libvirt reports no '
                    'maxGuests, otherwise SEV capacity is 0.'),
]

GROUPS = (('compute', compute_opts), ('DEFAULT', default_opts), ('pci', pci_opts),
          ('libvirt', libvirt_opts))


def register_opts(conf):
    wire_opts.register_groups(conf, GROUPS)
    network.register_opts(conf)      # [network]: bridged physical networks are traits


def list_opts():
    """[(group, options)] for oslo-config-generator and agent/opts.py."""
    return wire_opts.listing(GROUPS)


register_opts(cfg.CONF)


@dataclasses.dataclass(frozen=True, slots=True)
class ReservedPages:
    node: int
    size_kb: int
    count: int


@dataclasses.dataclass(frozen=True, slots=True)
class HostSettings:
    """Checked discovery options; the defaults are the options' defaults."""

    dedicated_set: frozenset | None = None
    shared_set: frozenset | None = None
    reserved_host_memory_mb: int = 512
    reserved_huge_pages: tuple = ()        # ReservedPages
    device_specs: tuple = ()               # pci_spec.DeviceSpec
    virt_type: str = 'kvm'
    num_memory_encrypted_guests: int | None = None
    networks: HostNetworks = HostNetworks()     # bridged physical networks (traits)


def settings_from_conf(conf=cfg.CONF):
    """HostSettings from the options; InvalidConfig names the first bad one."""
    return HostSettings(
        dedicated_set=_cpuset(conf.compute.cpu_dedicated_set, '[compute] cpu_dedicated_set'),
        shared_set=_cpuset(conf.compute.cpu_shared_set, '[compute] cpu_shared_set'),
        reserved_host_memory_mb=conf.reserved_host_memory_mb,
        reserved_huge_pages=parse_reserved_huge_pages(conf.reserved_huge_pages),
        device_specs=pci_spec.parse_device_specs(conf.pci.device_spec),
        virt_type=conf.libvirt.virt_type,
        num_memory_encrypted_guests=conf.libvirt.num_memory_encrypted_guests,
        networks=networks_from_conf(conf),
    )


def _cpuset(value, option):
    if value is None or not value.strip():
        return None
    try:
        return parse_cpuset(value)
    except CpuSetError as exc:
        raise InvalidConfig(option, str(exc))


_SIZE = re.compile(r'^\s*(\d+)\s*([kmg]?)(i?b)?\s*$', re.IGNORECASE)
_SIZE_FACTOR_KB = {'': 1, 'k': 1, 'm': 1024, 'g': 1024 * 1024}


def parse_reserved_huge_pages(entries):
    """ReservedPages from Nova-style dicts {'node': '0', 'size': '2048', 'count': '64'}."""
    result = []
    for index, entry in enumerate(entries or ()):
        option = f"[DEFAULT] reserved_huge_pages[{index}]"
        missing = [key for key in ('node', 'size', 'count') if key not in entry]
        if missing:
            raise InvalidConfig(option, f"missing {', '.join(missing)} "
                                        "(expected 'node:0,size:2048,count:64')")
        unknown = sorted(set(entry) - {'node', 'size', 'count'})
        if unknown:
            raise InvalidConfig(option, f"unknown keys {unknown}")
        size = _SIZE.match(str(entry['size']))
        if not size:
            raise InvalidConfig(option, f"size {entry['size']!r} is not KiB or 2MB/1GB")
        node, count = str(entry['node']).strip(), str(entry['count']).strip()
        if not node.isdigit() or not count.isdigit():
            raise InvalidConfig(option, 'node and count are non-negative integers')
        size_kb = int(size.group(1)) * _SIZE_FACTOR_KB[size.group(2).lower()]
        result.append(ReservedPages(node=int(node), size_kb=size_kb, count=int(count)))
    return tuple(result)
