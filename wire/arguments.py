"""Checks of single RPC arguments: ids, names, states, bounded lists and texts.

Each check returns the value when it keeps the rule and raises a BusError
(InvalidInput) naming the field and the rule otherwise.  The limits are options
(docs/rpc-api.md, "Limits"); the message as a whole is bounded first by
``[DEFAULT] rpc_max_message_bytes`` (wire.rpc.GuardedDispatcher).
"""

import re
import unicodedata
import uuid as uuidlib

from oslo_config import cfg

from wire import rpc

CONF = cfg.CONF

argument_opts = [
    cfg.IntOpt('rpc_max_list_length', default=1000, min=1,
               help='Most items of one list argument of an RPC message: instance uuids of a '
                    'boot, results of an instance_updates batch, domains of a host report.'),
    cfg.IntOpt('rpc_max_text_length', default=4096, min=64,
               help='Most characters of a free-text RPC argument (a reason).'),
]
CONF.register_opts(argument_opts)

NAME_MAX_LENGTH = 255        # the store's name columns
# Host names: what a DNS label sequence allows, plus '_' (libvirt's hostname is often
# the name); ASCII only, so a name cannot look like another one.
HOST_NAME = re.compile(r'[A-Za-z0-9](?:[A-Za-z0-9._-]{0,253}[A-Za-z0-9])?\Z')
# Unicode categories that never belong in a name: control, format (e.g. right-to-left
# overrides), surrogates, private use and unassigned.
FORBIDDEN_IN_NAMES = frozenset(('Cc', 'Cf', 'Cs', 'Co', 'Cn'))
# libvirt's domain states as the agent reports them (agent.libvirt_conn.DOMAIN_STATES).
DOMAIN_STATES = ('nostate', 'running', 'blocked', 'paused', 'shutdown', 'shutoff', 'crashed',
                 'pmsuspended')


def list_opts():
    return [('DEFAULT', argument_opts)]


def _string(value, field, limit):
    rpc.check(value, str, field)
    if len(value) > limit:
        raise rpc.invalid(field, f"longer than {limit} characters ({len(value)})")
    try:
        value.encode('utf-8')
    except UnicodeEncodeError:
        raise rpc.invalid(field, 'is not valid UTF-8 (lone surrogate)')
    if '\x00' in value:
        raise rpc.invalid(field, 'contains a NUL character')
    return value


def text(value, field, optional=True):
    """A free text (a reason): UTF-8, no NUL, at most [DEFAULT] rpc_max_text_length."""
    if value is None and optional:
        return None
    return _string(value, field, CONF.rpc_max_text_length)


def uuid(value, field):
    """A lower-case canonical UUID (the one spelling the store and libvirt use)."""
    rpc.check(value, str, field)
    try:
        canonical = str(uuidlib.UUID(value)) if len(value) == 36 else None
    except ValueError:
        canonical = None
    if canonical != value:
        raise rpc.invalid(field, f"{rpc.shown(value)} is not a lower-case canonical UUID")
    return value


def instance_name(value, field):
    """An instance name: 1-255 characters, UTF-8, no control or format characters."""
    _string(value, field, NAME_MAX_LENGTH)
    bad = next((c for c in value if unicodedata.category(c) in FORBIDDEN_IN_NAMES), None)
    if bad is not None:
        raise rpc.invalid(field, f"contains the control or format character U+{ord(bad):04X}")
    return value


def instance_ref(value, field):
    """An instance named by its uuid or by its name (instance_name's rule)."""
    return instance_name(value, field)


def host_name(value, field):
    """A host name: ASCII letters, digits, '.', '-', '_', 1-255, starting and ending
    with a letter or digit."""
    rpc.check(value, str, field)
    if not HOST_NAME.match(value):
        raise rpc.invalid(field, f"{rpc.shown(value)} is not a host name (ASCII letters, "
                          "digits, '.', '-', '_'; at most 255; starts and ends with a letter "
                          "or digit)")
    return value


def one_of(value, field, allowed):
    if not isinstance(value, str) or value not in allowed:
        raise rpc.invalid(field, f"{rpc.shown(value)} is not one of {', '.join(allowed)}")
    return value


def bounded_list(value, field):
    """A list of at most [DEFAULT] rpc_max_list_length items."""
    rpc.check(value, list, field)
    if len(value) > CONF.rpc_max_list_length:
        raise rpc.invalid(field, f"{len(value)} items, more than [DEFAULT] "
                          f"rpc_max_list_length ({CONF.rpc_max_list_length})")
    return value
