"""The message bus: transport, RPC clients and servers, notifier, broker wait.

Everything uses the global ``oslo_config.cfg.CONF`` (oslo.messaging registers
its own options there).  Messages are plain dicts; endpoints validate what
they receive and turn every failure into a ``BusError`` the caller can read
(code + one-line message + details), so a malformed message never reaches
the service's logic and never crashes it.
"""

import functools
import logging
import socket
import time

import oslo_messaging as messaging
from oslo_config import cfg
from oslo_messaging import opts as messaging_opts
from oslo_messaging.rpc import dispatcher as rpc_dispatcher

from wire.context import RequestContextSerializer
from wire.errors import FieldError, InvalidInput

LOG = logging.getLogger(__name__)
CONF = cfg.CONF

# Error codes a caller can act on (the CLI maps them to exit codes).
INVALID_INPUT = 'InvalidInput'
NO_VALID_HOST = 'NoValidHost'
NOT_FOUND = 'NotFound'
CONFLICT = 'Conflict'
OPERATION_FAILED = 'OperationFailed'
INTERNAL_ERROR = 'InternalError'

bus_opts = [
    cfg.IntOpt('broker_wait_timeout', default=60, min=0,
               help='Seconds a service waits at start for the message broker to accept TCP '
                    'connections before giving up (0: check once).'),
    cfg.FloatOpt('broker_wait_interval', default=1.0, min=0.05,
                 help='Seconds between two broker connection attempts at start.'),
]
CONF.register_opts(bus_opts)


def _register_messaging_opts():
    # transport_url & co. are registered by oslo.messaging only when a transport
    # is made; register them now so config files, the CLI and tests can set them.
    for group, opts in messaging_opts.list_opts():
        if group in (None, 'DEFAULT'):
            CONF.register_opts(opts)
        else:
            CONF.register_opts(opts, group=group)


_register_messaging_opts()

_TRANSPORTS = {}


def list_opts():
    return [('DEFAULT', bus_opts)]


class BusError(Exception):
    """An error answered over the bus: ``code`` says what kind, ``message`` why.

    Rebuilt on the calling side (its module is in allowed_remote_exmods), so
    callers catch ``BusError`` and read ``code``, ``message`` and ``details``.
    """

    def __init__(self, code, message, details=None):
        super().__init__(code, message, details)
        self.code = code
        self.message = message
        self.details = details or {}

    def one_line(self):
        return f"{self.code}: {self.message}"


class BrokerUnavailable(RuntimeError):
    """The broker did not accept connections within the configured wait."""


def invalid(field, rule):
    """A BusError for one broken payload rule."""
    return BusError(INVALID_INPUT, f"{field}: {rule}", {'errors': [{'field': field,
                                                                      'rule': rule}]})


def get_transport(url=None):
    """The RPC transport for ``url`` (default: [DEFAULT] transport_url), cached."""
    key = url or CONF.transport_url
    if key not in _TRANSPORTS:
        _TRANSPORTS[key] = messaging.get_rpc_transport(
            CONF, url=url, allowed_remote_exmods=[__name__])
    return _TRANSPORTS[key]


def reset_transports():
    """Drop cached transports (tests switch URLs; services call it on stop)."""
    for transport in _TRANSPORTS.values():
        transport.cleanup()
    _TRANSPORTS.clear()


def get_rpc_client(topic, version, server=None, timeout=None, url=None, version_cap=None):
    target = messaging.Target(topic=topic, version=version, server=server)
    return messaging.get_rpc_client(get_transport(url), target, timeout=timeout,
                                    version_cap=version_cap,
                                    serializer=RequestContextSerializer())


class ExposedOrPingPolicy(messaging.ExplicitRPCAccessPolicy):
    """Only ``@endpoint`` methods, plus oslo.messaging's ping when ``rpc_ping_enabled``.

    oslo.messaging adds its PingEndpoint (``oslo_rpc_server_ping``) when
    ``[DEFAULT] rpc_ping_enabled`` is true, but the explicit policy alone
    would refuse it, as its method is not ours to mark.
    """

    def is_allowed(self, endpoint, method):
        if isinstance(endpoint, rpc_dispatcher.PingEndpoint):
            return method == 'oslo_rpc_server_ping'
        return super().is_allowed(endpoint, method)


def get_rpc_server(topic, server, endpoints, url=None):
    """An RPC server listening on ``topic`` (and ``topic.server``); not started.

    Only methods wrapped by ``endpoint`` can be called over the bus.
    """
    target = messaging.Target(topic=topic, server=server)
    return messaging.get_rpc_server(get_transport(url), target, endpoints,
                                    access_policy=ExposedOrPingPolicy,
                                    serializer=RequestContextSerializer())


def get_notifier(publisher_id, url=None):
    """A notifier on the notification transport ([oslo_messaging_notifications])."""
    transport = messaging.get_notification_transport(CONF, url=url)
    driver = None if CONF.oslo_messaging_notifications.driver else 'messagingv2'
    return messaging.Notifier(transport, publisher_id=publisher_id, driver=driver,
                              topics=['notifications'])


def broker_addresses(url=None):
    """(host, port) pairs of the broker(s) in the transport URL; none for in-memory."""
    parsed = messaging.TransportURL.parse(CONF, url or CONF.transport_url)
    if parsed.transport in ('fake', 'kombu+memory') or 'memory' in (parsed.transport or ''):
        return []
    default_port = 5672
    return [(h.hostname or '127.0.0.1', h.port or default_port) for h in parsed.hosts] or [
        ('127.0.0.1', default_port)]


def broker_reachable(addresses, timeout=1.0):
    for host, port in addresses:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                return True
        except OSError:
            continue
    return not addresses


def wait_for_broker(url=None, timeout=None, interval=None):
    """Wait until the broker accepts TCP connections; BrokerUnavailable after ``timeout``.

    oslo.messaging itself retries a down broker forever, so services and the
    CLI check the port first and bound the wait themselves.
    """
    addresses = broker_addresses(url)
    timeout = CONF.broker_wait_timeout if timeout is None else timeout
    interval = CONF.broker_wait_interval if interval is None else interval
    deadline = time.monotonic() + timeout
    attempt = 0
    while True:
        attempt += 1
        if broker_reachable(addresses):
            return
        if time.monotonic() >= deadline:
            where = ', '.join(f"{h}:{p}" for h, p in addresses)
            raise BrokerUnavailable(f"message broker {where} unreachable after {timeout}s "
                                    f"({attempt} attempts)")
        LOG.warning('Broker %s not reachable (attempt %d), retrying for %.0fs more',
                    addresses, attempt, deadline - time.monotonic())
        time.sleep(interval)


def endpoint(method):
    """Wrap an RPC endpoint method: errors go back to the caller, never crash the service.

    BusError and input errors are *expected* (no traceback in the log, one
    warning line); anything else is logged with its traceback and answered
    as InternalError.
    """
    @functools.wraps(method)
    def wrapper(self, ctxt, **kwargs):
        try:
            try:
                return method(self, ctxt, **kwargs)
            except BusError:
                raise
            except InvalidInput as exc:
                raise BusError(INVALID_INPUT, str(exc), {'errors': exc.to_list()})
            except FieldError as exc:
                raise BusError(INVALID_INPUT, str(exc), {'errors': [exc.to_dict()]})
            except TypeError as exc:   # wrong or missing keyword arguments
                if exc.__traceback__ and exc.__traceback__.tb_next is None:
                    raise BusError(INVALID_INPUT, f"{method.__name__}: {exc}")
                raise
        except BusError as exc:
            LOG.warning('%s rejected: %s', method.__name__, exc.one_line())
            raise rpc_dispatcher.ExpectedException()
        except Exception as exc:
            LOG.exception('%s failed', method.__name__)
            try:
                raise BusError(INTERNAL_ERROR, f"{method.__name__}: {exc}")
            except BusError:
                raise rpc_dispatcher.ExpectedException()
    wrapper.exposed = True    # only @endpoint methods are callable (ExplicitRPCAccessPolicy)
    return wrapper


def require(payload, key, kind, where='payload'):
    """``payload[key]`` checked to be of ``kind``; BusError naming the field otherwise."""
    if not isinstance(payload, dict):
        raise invalid(where, f"expected an object, got {type(payload).__name__}")
    if key not in payload or payload[key] is None:
        raise invalid(f"{where}.{key}", 'is required')
    return check(payload[key], kind, f"{where}.{key}")


def check(value, kind, field):
    """``value`` if it is a ``kind`` (bool is not an int), else a BusError naming ``field``."""
    if kind is int and isinstance(value, bool) or not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else '/'.join(k.__name__ for k in kind)
        raise invalid(field, f"expected {names}, got {type(value).__name__}")
    if kind is str and not value:
        raise invalid(field, 'must not be empty')
    return value
