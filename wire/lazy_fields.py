"""Readers like wire.fields for hot paths: the field's name is built only on error.

Each returns what its wire.fields counterpart returns and, for anything but
the plain well-formed value, calls that counterpart, so errors are the same.
``path`` and ``suffix`` together are the field name (``f"{path}{suffix}"``).
"""

import itertools

from wire import fields
from wire.cpuset import CpuSetError, parse_cpuset

_INT_ONLY = frozenset((int,))
_LIST_ONLY = frozenset((list,))


def integer(value, path, suffix, minimum=0):
    """fields.integer for ``path + suffix``."""
    plain = value
    if type(value) is str and value.isascii() and value.isdigit():
        plain = int(value)   # what fields.integer makes of it too
    if type(plain) is int and plain >= minimum:   # bool is not int here
        return plain
    return fields.integer(value, f"{path}{suffix}", minimum)


def cpuset(value, path, suffix):
    """fields.cpuset for ``path + suffix``."""
    try:
        return parse_cpuset(value)
    except CpuSetError:
        return fields.cpuset(value, f"{path}{suffix}")   # raises the same error


def cpusets(values, path, suffix):
    """A tuple of fields.cpuset for each item of a list at ``path + suffix``."""
    if type(values) is not list:
        values = fields.listing(values, f"{path}{suffix}")
    elif _LIST_ONLY.issuperset(map(type, values)):   # lists of plain ints: checked at once
        flat = list(itertools.chain.from_iterable(values))
        if _INT_ONLY.issuperset(map(type, flat)) and (not flat or min(flat) >= 0):
            return tuple(map(frozenset, values))
    try:
        return tuple(map(parse_cpuset, values))
    except CpuSetError:
        return tuple(fields.cpuset(s, f"{path}{suffix}[{i}]") for i, s in enumerate(values))
