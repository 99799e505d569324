"""``quota:`` flavor keys: CPU shares and bandwidth, disk I/O limits, NIC bandwidth.

Nova's libvirt driver turns them into ``<cputune>`` (shares, period, quota),
``<iotune>`` on the disk and ``<bandwidth>`` on each tap NIC; so does the
agent, from this value.  The scheduler checks them when it parses the
request.  Units are libvirt's: bytes and I/O operations per second,
microseconds for the CPU period and quota, KiB/s for NIC average and peak
rates and KiB for their bursts.

NIC bandwidth (``vif_{inbound,outbound}_{average,peak,burst}``) needs a host
whose kernel has the queueing disciplines, classifiers and actions libvirt
uses (htb with an sfq leaf, fw and u32 filters, police): a request with any
of them requires the host trait TRAIT_VIF_BANDWIDTH, which agents report when
a probe of exactly those succeeds (agent.discovery.shaping).  Refused: the
``quota:`` keys of Nova's other drivers (VMware ``cpu_limit``, ``memory_*``, ...).
"""

import dataclasses

from wire import fields
from wire.errors import FieldError, InvalidInput

PREFIX = 'quota:'
LIMIT = 2 ** 53                          # above any real rate, below float trouble
CPU_KEYS = {'cpu_shares': ('shares', 2, 262144), 'cpu_period': ('period', 1000, 1000000),
            'cpu_quota': ('quota', 1000, 17592186044415)}
DISK_ITEMS = ('total_bytes_sec', 'read_bytes_sec', 'write_bytes_sec', 'total_iops_sec',
              'read_iops_sec', 'write_iops_sec')
DISK_KEYS = {f"disk_{item}{suffix}": f"{item}{suffix}"
             for item in DISK_ITEMS for suffix in ('', '_max')}
DISK_KEYS['disk_size_iops_sec'] = 'size_iops_sec'
VIF_DIRECTIONS = ('inbound', 'outbound')
# (low, high) per attribute: rates in KiB/s, bursts in KiB (tc takes bursts as 32-bit bytes).
VIF_ATTRIBUTES = {'average': (1, 2 ** 32 - 1), 'peak': (1, 2 ** 32 - 1), 'burst': (1, 4194303)}
VIF_KEYS = {f"vif_{direction}_{attribute}": (direction, attribute)
            for direction in VIF_DIRECTIONS for attribute in VIF_ATTRIBUTES}
TRAIT_VIF_BANDWIDTH = 'CUSTOM_KVMFLEET_VIF_BANDWIDTH'


@dataclasses.dataclass(frozen=True, slots=True)
class GuestQuota:
    """Tunables by libvirt element; empty when no ``quota:`` key is set."""

    cputune: tuple = ()          # ((element, value), ...) in shares, period, quota order
    iotune: tuple = ()           # ((element, value), ...) sorted
    bandwidth: tuple = ()        # ((direction, ((attribute, value), ...)), ...) sorted

    @property
    def required_traits(self):
        """Host traits these tunables need: NIC bandwidth needs a host that can shape."""
        return frozenset({TRAIT_VIF_BANDWIDTH}) if self.bandwidth else frozenset()


def guest_quota(extra_specs):
    """The GuestQuota of the flavor's ``quota:`` keys; InvalidInput naming each bad key."""
    errors, cpu, disk, vif = [], {}, {}, {}
    for key, raw in sorted((extra_specs or {}).items()):
        if not isinstance(key, str) or not key.startswith(PREFIX):
            continue
        name, field = key[len(PREFIX):], f"extra_specs.{key}"
        if name in CPU_KEYS:
            element, low, high = CPU_KEYS[name]
            _put(cpu, element, raw, low, high, field, errors)
        elif name in DISK_KEYS:
            _put(disk, DISK_KEYS[name], raw, 1, LIMIT, field, errors)
        elif name in VIF_KEYS:
            direction, attribute = VIF_KEYS[name]
            _put(vif.setdefault(direction, {}), attribute, raw, *VIF_ATTRIBUTES[attribute],
                 field, errors)
        else:
            errors.append(FieldError(field, 'not a quota kvmfleet applies (libvirt: cpu_shares, '
                                            'cpu_period, cpu_quota, disk_*, vif_*)'))
    _consistent(disk, errors)
    _vif_averages(extra_specs, errors)
    if errors:
        raise InvalidInput(errors)
    order = [element for element, _, _ in CPU_KEYS.values()]
    return GuestQuota(
        cputune=tuple((e, cpu[e]) for e in order if e in cpu),
        iotune=tuple(sorted(disk.items())),
        bandwidth=tuple((d, tuple(sorted(vif[d].items()))) for d in VIF_DIRECTIONS if vif.get(d)))


def _vif_averages(extra_specs, errors):
    """A peak or burst needs the average of its direction (libvirt's mandatory rate)."""
    for direction in VIF_DIRECTIONS:
        keys = {f"{PREFIX}vif_{direction}_{a}" for a in VIF_ATTRIBUTES} & set(extra_specs or {})
        average = f"{PREFIX}vif_{direction}_average"
        if keys and average not in keys:
            errors.append(FieldError(f"extra_specs.{sorted(keys)[0]}",
                                     f"needs {average} (the average rate libvirt requires)"))


def _put(target, name, raw, low, high, field, errors):
    """``target[name]`` = the integer in low..high (or -1 for an unlimited CPU quota)."""
    value = fields.text_integer(raw, -1 if name == 'quota' else low, high)
    if value is not None and (value >= low or value == -1):
        target[name] = value
        return
    allowed = f"-1 or {low}..{high}" if name == 'quota' else f"{low}..{high}"
    errors.append(FieldError(field, f"{str(raw)[:64]!r} is not an integer {allowed}"))


def _consistent(disk, errors):
    for kind in ('bytes_sec', 'iops_sec'):
        for suffix in ('', '_max'):
            total = f"total_{kind}{suffix}"
            split = [f"{side}_{kind}{suffix}" for side in ('read', 'write')]
            if total in disk and any(s in disk for s in split):
                errors.append(FieldError(f"extra_specs.quota:disk_{total}",
                                         f"cannot be combined with disk_{split[0]} or "
                                         f"disk_{split[1]} (libvirt)"))
