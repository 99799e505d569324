"""The name rules: what a host, an instance or an identifier may be called, and why.

* A **host name** becomes part of a RabbitMQ routing key
  (``kvmfleet-agent.<host>``, at most 255 bytes), of file paths and of
  libvirt and database values.  So it is DNS-like ASCII: dot-separated
  labels of letters, digits, ``-`` and ``_``, each label starting with a
  letter or digit, at most ``HOST_NAME_MAX`` characters.  No ``/``, no
  ``..``, no spaces, no look-alike Unicode (``Ⅻ``).
* An **instance name** is what the operator reads back: it goes into the
  libvirt domain's metadata (XML) and a database column of 255 characters.
  Any printable Unicode is allowed (letters, marks, digits, punctuation,
  symbols and the plain space), up to the ``[limits] max_string_length``,
  without leading or trailing spaces; control, format (e.g. right-to-left
  override, zero-width), surrogate, private-use and unassigned characters
  are not, because they hide what the name really is.
* An **identifier** (instance uuid, image name, machine type) names a file
  or a libvirt value: ASCII letters, digits, ``.``, ``_``, ``-``, starting
  with a letter or digit; an instance uuid has at most 36 characters (the
  libvirt domain is named after it).
"""

import re
import unicodedata

from wire.errors import FieldError, shown
from wire.limits import DEFAULT

HOST_NAME_MAX = 200        # leaves room for 'kvmfleet-agent.' and oslo's suffixes
INSTANCE_UUID_MAX = 36     # a canonical UUID; the store's column
_HOST_NAME = re.compile(r'[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9][A-Za-z0-9_-]*)*\Z')
HOST_NAME_RULE = ("a host name is 1-200 ASCII letters, digits, '-' and '_' in "
                  "dot-separated labels, each starting with a letter or digit")
_IDENTIFIER = re.compile(r'[A-Za-z0-9][A-Za-z0-9._-]*\Z')
IDENTIFIER_RULE = "ASCII letters, digits, '.', '_' and '-', starting with a letter or digit"
INSTANCE_NAME_RULE = ('an instance name is printable text (letters, marks, digits, punctuation, '
                      'symbols, spaces) without leading or trailing spaces')
_PRINTABLE_CATEGORIES = frozenset('LMNPS')
_PRINTABLE_ASCII = re.compile(r'[ -~]*\Z')


def host_name(value, field):
    """``value`` if it follows the host name rule, else a FieldError."""
    if not isinstance(value, str) or not value:
        raise FieldError(field, f"{shown(value)} is not a non-empty string")
    if len(value) > HOST_NAME_MAX or not _HOST_NAME.match(value):
        raise FieldError(field, f"{shown(value)} is not a valid name: {HOST_NAME_RULE}")
    return value


def identifier(value, field, max_length=DEFAULT.max_string_length, what='an identifier'):
    """``value`` if it follows the identifier rule, else a FieldError."""
    if (not isinstance(value, str) or not 0 < len(value) <= max_length
            or not _IDENTIFIER.match(value)):
        raise FieldError(field, f"{shown(value)} is not {what}: 1-{max_length} "
                                f"{IDENTIFIER_RULE}")
    return value


def instance_uuid(value, field):
    """An instance's id: an identifier of at most 36 characters (the store's uuid column)."""
    return identifier(value, field, INSTANCE_UUID_MAX, 'an instance uuid')


def instance_name(value, field, max_length=DEFAULT.max_string_length):
    """``value`` if it follows the instance name rule, else a FieldError."""
    if not isinstance(value, str) or not value:
        raise FieldError(field, f"{shown(value)} is not a non-empty string")
    if len(value) > max_length:
        raise FieldError(field, f"is {len(value)} characters long, more than the maximum "
                                f"{max_length}")
    if _PRINTABLE_ASCII.match(value):   # the common case, without a per-character loop
        chars = ()
    else:
        chars = value
    for char in chars:
        if char != ' ' and unicodedata.category(char)[0] not in _PRINTABLE_CATEGORIES:
            raise FieldError(field, f"{shown(value)} contains U+{ord(char):04X} "
                                    f"({unicodedata.category(char)}): {INSTANCE_NAME_RULE}")
    if value != value.strip(' '):
        raise FieldError(field, f"{shown(value)}: {INSTANCE_NAME_RULE}")
    return value


# As libvirt and lspci write them: lower case, so one device has one spelling.
PCI_ADDRESS = re.compile(r'[0-9a-f]{4}:[0-9a-f]{2}:[01][0-9a-f]\.[0-7]\Z')
PCI_ADDRESS_RULE = "is not a PCI address dddd:bb:ss.f (lower-case hex, slot 00-1f, function 0-7)"
_PCI_ID = re.compile(r'[0-9a-fA-F]{4}\Z')
TRAIT_NAME = re.compile(r'[A-Z][A-Z0-9_]*\Z')


def pci_address(value, field):
    """A PCI address ``dddd:bb:ss.f`` (lower-case hex domain, bus, slot 00-1f; function 0-7)."""
    if not isinstance(value, str) or not PCI_ADDRESS.match(value):
        raise FieldError(field, f"{shown(value)} {PCI_ADDRESS_RULE}")
    return value


def pci_id(value, field):
    """A PCI vendor or product id: 4 hex digits."""
    if not isinstance(value, str) or not _PCI_ID.match(value):
        raise FieldError(field, f"{shown(value)} is not a 4-digit hex PCI id")
    return value


def trait(value, field, max_length=DEFAULT.max_string_length):
    """A trait name: upper case letters, digits and '_', starting with a letter."""
    if not isinstance(value, str) or len(value) > max_length or not TRAIT_NAME.match(value):
        raise FieldError(field, f"{shown(value)} is not a trait name (upper case, digits, "
                                f"_; at most {max_length} characters)")
    return value
