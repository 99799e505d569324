"""Small readers for hand-written dicts that report the failing field by path."""

from wire.cpuset import CpuSetError, parse_cpuset
from wire.errors import FieldError

_MISSING = object()


def require(data, key, path):
    """Return ``data[key]`` or raise a FieldError naming ``path.key``."""
    if not isinstance(data, dict):
        raise FieldError(path, 'expected an object')
    value = data.get(key, _MISSING)
    if value is _MISSING or value is None:
        raise FieldError(f"{path}.{key}", 'is required')
    return value


def integer(value, field, minimum=0):
    """An int (not bool) no smaller than ``minimum``; numeric strings allowed."""
    if isinstance(value, str) and value.strip().lstrip('-').isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldError(field, f"{value!r} is not an integer")
    if value < minimum:
        raise FieldError(field, f"{value} is below the minimum {minimum}")
    return value


def cpuset(value, field):
    try:
        return parse_cpuset(value)
    except CpuSetError as exc:
        raise FieldError(field, str(exc))


def string(value, field):
    if not isinstance(value, str) or not value:
        raise FieldError(field, f"{value!r} is not a non-empty string")
    return value


def listing(value, field):
    if not isinstance(value, (list, tuple)):
        raise FieldError(field, 'expected a list')
    return value


def boolean(value, field):
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ('true', 'yes', '1'):
        return True
    if isinstance(value, str) and value.lower() in ('false', 'no', '0'):
        return False
    raise FieldError(field, f"{value!r} is not a boolean")
