"""Small readers for hand-written dicts that report the failing field by path.

Every value that crosses a boundary passes through one of these, so the rules
are written once: integers are ASCII digits within bounds, text is valid
UTF-8 without control characters and of bounded length, lists and objects
have a bounded number of items (wire.limits).
"""

import re

from wire.cpuset import CpuSetError, parse_cpuset
from wire.errors import FieldError, shown
from wire.interning import shared
from wire.limits import DEFAULT

_MISSING = object()
INT64_MAX = 2 ** 63 - 1          # the database's BIGINT; also the default maximum
_INTEGER_TEXT = re.compile(r'-?[0-9]+\Z')
# Characters that may never appear in text: C0/C1 controls (NUL included), lone
# surrogates, and the bidirectional overrides and isolates that make text read
# differently from what it is ("Trojan Source").
_FORBIDDEN_CHAR = re.compile('[\x00-\x1f\x7f-\x9f\ud800-\udfff'
                             '\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]')
def require(data, key, path):
    """Return ``data[key]`` or raise a FieldError naming ``path.key``."""
    if not isinstance(data, dict):
        raise FieldError(path, 'expected an object')
    value = data.get(key, _MISSING)
    if value is _MISSING or value is None:
        raise FieldError(f"{path}.{key}", 'is required')
    return value


def integer(value, field, minimum=0, maximum=INT64_MAX):
    """An int (not bool) in ``[minimum, maximum]``; strings of ASCII digits allowed.

    A string may carry one leading '-'; anything else ('²', '--5', ' 5 ',
    '5.0', '1_000') is not an integer.
    """
    if isinstance(value, str):
        value = _integer_text(value, field, minimum, maximum)
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldError(field, f"{shown(value)} is not an integer")
    if value < minimum:
        raise FieldError(field, f"{shown(value)} is below the minimum {minimum}")
    if value > maximum:
        raise FieldError(field, f"{shown(value)} is above the maximum {maximum}")
    return value


def text_integer(value, minimum, maximum):
    """``integer``'s rule for a flavor key's value (an int or its text, spaces around
    allowed): the int, or None when it is not one in ``[minimum, maximum]`` (the caller
    words the error for its key)."""
    if isinstance(value, str):
        value = value.strip()
    elif isinstance(value, bool) or not isinstance(value, int):
        return None
    try:
        return integer(value, '', minimum, maximum)
    except FieldError:
        return None


def _integer_text(text, field, minimum, maximum):
    if not _INTEGER_TEXT.match(text):
        rule = '' if text.isascii() else ' (ASCII digits 0-9 only)'
        raise FieldError(field, f"{shown(text)} is not an integer{rule}")
    if len(text) > 20:      # decided without converting a huge number
        bound = (f'below the minimum {minimum}' if text.startswith('-')
                 else f'above the maximum {maximum}')
        raise FieldError(field, f"{shown(text)} is {bound}")
    return int(text)


def cpuset(value, field, max_cpu=DEFAULT.max_cpu_id):
    """A CPU set (``"0-3,^2"`` or a list of ids), ids at most ``max_cpu``; equal sets
    parsed anywhere are one object (wire/interning.py)."""
    try:
        return shared(parse_cpuset(value, max_cpu))
    except CpuSetError as exc:
        raise FieldError(field, str(exc))


def text_problem(value, max_length):
    """Why ``value`` is not acceptable text, or None: the one text rule."""
    if not isinstance(value, str):
        return f"{shown(value)} is not a string"
    if len(value) > max_length:
        return f"is {len(value)} characters long, more than the maximum {max_length}"
    found = _FORBIDDEN_CHAR.search(value)
    if found:
        return (f"{shown(value)} contains the character U+{ord(found.group()):04X}: control, "
                "surrogate and bidirectional-override characters are not allowed")
    return None


def string(value, field, max_length=DEFAULT.max_string_length):
    """Non-empty text (see ``text_problem``)."""
    if not isinstance(value, str) or not value:
        raise FieldError(field, f"{shown(value)} is not a non-empty string")
    problem = text_problem(value, max_length)
    if problem:
        raise FieldError(field, problem)
    return value


def optional_string(value, field, max_length=DEFAULT.max_string_length):
    """``string`` for a field that may be absent (None)."""
    return None if value is None else string(value, field, max_length)


def listing(value, field, max_items=None):
    """A list (or tuple) of at most ``max_items`` items."""
    if not isinstance(value, (list, tuple)):
        raise FieldError(field, 'expected a list')
    if max_items is not None and len(value) > max_items:
        raise FieldError(field, f'has {len(value)} items, more than the maximum {max_items}')
    return value


def mapping(value, field, max_items=None, what='an object'):
    """A dict of at most ``max_items`` entries."""
    if not isinstance(value, dict):
        raise FieldError(field, f'expected {what}')
    if max_items is not None and len(value) > max_items:
        raise FieldError(field, f'has {len(value)} entries, more than the maximum {max_items}')
    return value


def boolean(value, field):
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ('true', 'yes', '1'):
        return True
    if isinstance(value, str) and value.lower() in ('false', 'no', '0'):
        return False
    raise FieldError(field, f"{shown(value)} is not a boolean")
