"""CPU set syntax shared by the fleet file, flavors and agent options.

The syntax is Nova's: comma-separated ids and ranges with ``^`` exclusions,
e.g. ``"0-7,^3,12"``.  Lists of ints are accepted wherever a set is.
"""


class CpuSetError(ValueError):
    """A CPU set string does not follow the ``0-3,^2,8`` syntax."""


def parse_cpuset(value):
    """Return a frozenset of CPU ids from a spec string or an iterable of ints."""
    if value is None:
        return frozenset()
    if not isinstance(value, str):
        try:
            cpus = frozenset(value)
        except TypeError:
            raise CpuSetError(f"{value!r}: expected a CPU list or a '0-3,^2' string")
        for cpu in cpus:   # checked once per distinct id; bool is an int subclass
            if type(cpu) is not int or cpu < 0:
                _as_cpu(cpu)
        return cpus
    include, exclude = set(), set()
    for part in (p.strip() for p in value.split(',')):
        if not part:
            continue
        target = exclude if part.startswith('^') else include
        target.update(_parse_range(part.lstrip('^')))
    return frozenset(include - exclude)


def _parse_range(text):
    low, sep, high = text.partition('-')
    try:
        first = _as_cpu(int(low))
        last = _as_cpu(int(high)) if sep else first
    except ValueError:
        raise CpuSetError(f"{text!r}: not a CPU id or range")
    if last < first:
        raise CpuSetError(f"{text!r}: range end is below its start")
    return range(first, last + 1)


def _as_cpu(item):
    if isinstance(item, bool) or not isinstance(item, int) or item < 0:
        raise CpuSetError(f"{item!r}: a CPU id is a non-negative integer")
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
