"""Checks of single RPC arguments: ids, names, states, bounded lists and texts.

Each check returns the value when it keeps the rule and raises a BusError or a
FieldError (both InvalidInput on the bus) naming the field and the rule otherwise.
Names follow wire.names; the bus's own limits are options (docs/rpc-api.md,
"Limits"); the message as a whole is bounded first by ``[DEFAULT]
rpc_max_message_bytes`` (wire.rpc.GuardedDispatcher).
"""

from oslo_config import cfg

from wire import names, rpc

CONF = cfg.CONF

argument_opts = [
    cfg.IntOpt('rpc_max_list_length', default=1000, min=1,
               help='Most results in one instance_updates message ([limits] max_count and '
                    'max_instances bound the uuids of a boot and the domains of a report).'),
    cfg.IntOpt('rpc_max_text_length', default=4096, min=64,
               help='Most characters of a free-text RPC argument (a reason).'),
]
CONF.register_opts(argument_opts)

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
    """An instance uuid (wire.names: the identifier rule, at most 36 characters)."""
    return names.instance_uuid(value, field)


def instance_ref(value, field):
    """An instance named by its uuid or by its name (wire.names.instance_name)."""
    return names.instance_name(value, field)


def host_name(value, field):
    """A host name (wire.names.host_name)."""
    return names.host_name(value, field)


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
