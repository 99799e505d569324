"""``quota:`` flavor keys: CPU shares and bandwidth, disk I/O limits.

Nova's libvirt driver turns them into ``<cputune>`` (shares, period, quota)
and ``<iotune>`` on the disk; so does the agent, from this value.  The
scheduler checks them when it parses the request.  Units are libvirt's: bytes
and I/O operations per second, microseconds for the CPU period and quota.

Refused: NIC bandwidth (``vif_*``): libvirt shapes it with the kernel's htb
and sfq queueing disciplines, which hosts may lack (these machines have htb,
not sfq: the guest fails to start); until agents report that they can shape,
the scheduler could not place such a guest where it works.  Also refused:
the ``quota:`` keys of Nova's other drivers (VMware ``cpu_limit``,
``memory_*``, ...).
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
VIF_REFUSAL = ('NIC bandwidth is not applied by kvmfleet (libvirt needs the sch_htb and '
               'sch_sfq qdiscs, which hosts may lack)')


@dataclasses.dataclass(frozen=True, slots=True)
class GuestQuota:
    """Tunables by libvirt element; empty when no ``quota:`` key is set."""

    cputune: tuple = ()          # ((element, value), ...) in shares, period, quota order
    iotune: tuple = ()           # ((element, value), ...) sorted


def guest_quota(extra_specs):
    """The GuestQuota of the flavor's ``quota:`` keys; InvalidInput naming each bad key."""
    errors, cpu, disk = [], {}, {}
    for key, raw in sorted((extra_specs or {}).items()):
        if not isinstance(key, str) or not key.startswith(PREFIX):
            continue
        name, field = key[len(PREFIX):], f"extra_specs.{key}"
        if name in CPU_KEYS:
            element, low, high = CPU_KEYS[name]
            _put(cpu, element, raw, low, high, field, errors)
        elif name in DISK_KEYS:
            _put(disk, DISK_KEYS[name], raw, 1, LIMIT, field, errors)
        elif name.startswith('vif_'):
            errors.append(FieldError(field, VIF_REFUSAL))
        else:
            errors.append(FieldError(field, 'not a quota kvmfleet applies (libvirt: cpu_shares, '
                                            'cpu_period, cpu_quota, disk_*)'))
    _consistent(disk, errors)
    if errors:
        raise InvalidInput(errors)
    order = [element for element, _, _ in CPU_KEYS.values()]
    return GuestQuota(
        cputune=tuple((e, cpu[e]) for e in order if e in cpu),
        iotune=tuple(sorted(disk.items())))


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
