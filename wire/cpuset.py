"""CPU set syntax shared by the fleet file, flavors and agent options.

The syntax is Nova's: comma-separated ids and ranges with ``^`` exclusions,
e.g. ``"0-7,^3,12"``.  Lists of ints are accepted wherever a set is.  Ids are
ASCII digits no larger than ``max_cpu``, checked before any range is expanded,
and the ranges of one set may name at most ``EXPANSION_FACTOR * (max_cpu + 1)``
ids in all, so a short string can never cost much memory or time.
"""

import re

from wire.errors import shown

# Room for overlapping ranges and exclusions in a legitimate set.
EXPANSION_FACTOR = 4
# The largest CPU id accepted when the caller names none (wire.limits): Linux's
# largest NR_CPUS (CONFIG_MAXSMP) is 8192, twice that leaves room.
DEFAULT_MAX_CPU = 16383
_ID = re.compile(r'[0-9]{1,20}\Z')


class CpuSetError(ValueError):
    """A CPU set string does not follow the ``0-3,^2,8`` syntax."""


def parse_cpuset(value, max_cpu=DEFAULT_MAX_CPU):
    """Return a frozenset of CPU ids from a spec string or an iterable of ints."""
    if value is None:
        return frozenset()
    if isinstance(value, str):
        return _from_text(value, max_cpu, EXPANSION_FACTOR * (max_cpu + 1))
    if type(value) is not list or len(value) > max_cpu:   # a JSON list is the common case
        _check_items(value, EXPANSION_FACTOR * (max_cpu + 1))
    try:
        cpus = frozenset(value)
    except TypeError:
        raise CpuSetError(f"{shown(value)}: expected a CPU list or a '0-3,^2' string")
    for cpu in cpus:   # checked once per distinct id; bool is an int subclass
        if type(cpu) is not int or cpu < 0 or cpu > max_cpu:
            _as_cpu(cpu, max_cpu)
    return cpus


def _from_text(value, max_cpu, budget):
    include, exclude = set(), set()
    for part in (p.strip() for p in value.split(',')):
        if not part:
            continue
        target = exclude if part.startswith('^') else include
        ids = _parse_range(part[1:] if part.startswith('^') else part, max_cpu)
        budget -= len(ids)
        if budget < 0:
            raise CpuSetError(f"{shown(value)}: the ranges name more than "
                              f"{EXPANSION_FACTOR * (max_cpu + 1)} CPU ids in all")
        target.update(ids)
    return frozenset(include - exclude)


def _check_items(value, budget):
    if isinstance(value, (bytes, dict)) or not hasattr(value, '__iter__'):
        raise CpuSetError(f"{shown(value)}: expected a CPU list or a '0-3,^2' string")
    if hasattr(value, '__len__') and len(value) > budget:
        raise CpuSetError(f"a list of {len(value)} CPU ids is longer than the maximum {budget}")


def _parse_range(text, max_cpu):
    low, sep, high = text.partition('-')
    if not _ID.match(low) or (sep and not _ID.match(high)):
        raise CpuSetError(f"{shown(text)}: not a CPU id or range")
    first, last = int(low), int(high) if sep else int(low)
    if last > max_cpu or first > max_cpu:
        raise CpuSetError(f"{shown(text)}: a CPU id is at most {max_cpu}")
    if last < first:
        raise CpuSetError(f"{shown(text)}: range end is below its start")
    return range(first, last + 1)


def _as_cpu(item, max_cpu):
    if isinstance(item, bool) or not isinstance(item, int) or item < 0:
        raise CpuSetError(f"{shown(item)}: a CPU id is a non-negative integer")
    if item > max_cpu:
        raise CpuSetError(f"{shown(item)}: a CPU id is at most {max_cpu}")
    return item


def format_cpuset(cpus):
    """Format CPU ids compactly (``{0,1,2,5}`` -> ``"0-2,5"``)."""
    ordered = sorted(cpus)
    parts, start = [], None
    for index, cpu in enumerate(ordered):
        if start is None:
            start = cpu
        nxt = ordered[index + 1] if index + 1 < len(ordered) else None
        if nxt != cpu + 1:
            parts.append(str(start) if start == cpu else f"{start}-{cpu}")
            start = None
    return ','.join(parts)
