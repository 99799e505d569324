"""The message bus: transport, RPC clients and servers, notifier, broker wait.

Everything uses the global ``oslo_config.cfg.CONF`` (oslo.messaging registers
its own options there).  Messages are plain dicts; endpoints validate what
they receive and turn every failure into a ``BusError`` the caller can read
(code + one-line message + details), so a malformed message never reaches
the service's logic and never crashes it.
"""

import functools
import inspect
import logging
import math
import re
import socket
import time

import oslo_messaging as messaging
from oslo_config import cfg
from oslo_messaging import opts as messaging_opts
from oslo_messaging.rpc import dispatcher as rpc_dispatcher
from oslo_messaging.rpc import server as rpc_server

from wire import ratelimit
from wire.context import RequestContextSerializer
from wire.errors import FieldError, InvalidInput, shown

LOG = logging.getLogger(__name__)
CONF = cfg.CONF

# Error codes a caller can act on (the CLI maps them to exit codes).
INVALID_INPUT = 'InvalidInput'
NO_VALID_HOST = 'NoValidHost'
NOT_FOUND = 'NotFound'
CONFLICT = 'Conflict'
OPERATION_FAILED = 'OperationFailed'
INTERNAL_ERROR = 'InternalError'
NO_SUCH_METHOD = 'NoSuchMethod'
UNSUPPORTED_VERSION = 'UnsupportedVersion'

bus_opts = [
    cfg.IntOpt('broker_wait_timeout', default=60, min=0,
               help='Seconds a service waits at start for the message broker to accept TCP '
                    'connections before giving up (0: check once).'),
    cfg.FloatOpt('broker_wait_interval', default=1.0, min=0.05,
                 help='Seconds between two broker connection attempts at start.'),
    cfg.IntOpt('rpc_max_message_bytes', default=2 * 1024 * 1024, min=4096,
               help='Largest RPC message (bytes of the AMQP body) a service reads; a larger '
                    'one is refused (InvalidInput) before any of its arguments is looked at. '
                    'The biggest legitimate message is a host report: about 1 KiB per '
                    'running instance plus its topology.'),
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


def get_rpc_server(topic, server, endpoints, url=None, server_cls=rpc_server.RPCServer):
    """An RPC server listening on ``topic`` (and ``topic.server``); not started.

    Only methods wrapped by ``endpoint`` can be called over the bus, and every
    message passes GuardedDispatcher's envelope checks first.
    """
    target = messaging.Target(topic=topic, server=server)
    ratelimit.guard_driver_logs()
    dispatcher = GuardedDispatcher(endpoints, RequestContextSerializer(), ExposedOrPingPolicy)
    return server_cls(get_transport(url), target, dispatcher)


def observe(servers, observer):
    """Have ``observer(method, code, seconds)`` hear of every message ``servers`` handle."""
    for server in servers:
        server.dispatcher.observer = observer


def exposed_methods(endpoints):
    """Names of the methods callable over the bus on ``endpoints`` (and the ping)."""
    names = {'oslo_rpc_server_ping'}
    for endpoint_object in endpoints:
        # a router serving another class's methods names that class (exposed_type)
        kind = getattr(endpoint_object, 'exposed_type', type(endpoint_object))
        names.update(name for name in dir(kind)
                     if getattr(getattr(kind, name), 'exposed', False))
    return frozenset(names)


def outcome_code(exc):
    """The error code a failed dispatch answered (the BusError's, else InternalError)."""
    if isinstance(exc, rpc_dispatcher.ExpectedException):
        return getattr(exc.exc_info[1], 'code', INTERNAL_ERROR)
    return getattr(exc, 'code', INTERNAL_ERROR)


# -- the envelope of an incoming message -----------------------------------
METHOD_NAME = re.compile(r'[a-z][a-z0-9_]{0,63}\Z')
VERSION = re.compile(r'(\d{1,4})\.(\d{1,4})(?:\.\d{1,4})?\Z')
ARGUMENT_NAME = re.compile(r'[a-z][a-z0-9_]{0,63}\Z')
MAX_CLIENT_TIMEOUT_S = 86400


def message_size(incoming):
    """Bytes of the raw AMQP body, or None when the driver keeps no raw message."""
    body = getattr(getattr(incoming.message, '_raw_message', None), 'body', None)
    return len(body) if isinstance(body, (bytes, str)) else None


def check_method(message):
    method = message.get('method')
    if not isinstance(method, str):
        raise invalid('method', f"expected a method name (str), got {type(method).__name__}")
    if not METHOD_NAME.match(method):
        raise BusError(NO_SUCH_METHOD, f"method: {shown(method)} is not a method name "
                       '(lower-case letters, digits and _, at most 64)')
    return method


def check_version(message):
    version = message.get('version', '1.0')
    if not isinstance(version, str) or not VERSION.match(version):
        raise invalid('version', f"{shown(version)} is not a version (MAJOR.MINOR)")
    return version


def check_arguments(message):
    """The message's ``args`` dict, its keys checked to be argument names."""
    args = message.get('args', {})
    if not isinstance(args, dict):
        raise invalid('args', f"expected an object, got {type(args).__name__}")
    for name in args:
        if not isinstance(name, str) or not ARGUMENT_NAME.match(name):
            raise invalid('args', f"{shown(name)} is not an argument name")
    return args


def check_binding(function, method, args):
    """Every required argument present, no unknown one: InvalidInput listing them all."""
    context, known, required, open_ended = _parameters(function)
    errors = [{'field': f"args.{name}", 'rule': 'is required'} for name in required
              if name not in args]
    # A method taking **unknown answers unknown arguments itself; the names the
    # method is called with (self, the context) are never arguments.
    errors += [{'field': f"args.{name}", 'rule': f"is not an argument of {method}"}
               for name in sorted(args) if name not in known and
               (not open_ended or name in ('self', context))]
    if errors:
        text = '; '.join(f"{e['field']}: {e['rule']}" for e in errors)
        raise BusError(INVALID_INPUT, f"{method}: {text}", {'errors': errors})


_PARAMETERS = {}     # endpoint function -> what check_binding reads of its signature


def _parameters(function):
    """(context name, argument names, required ones, takes **kwargs) of a bound endpoint
    method, read from its signature once per function (inspect is slow: every message)."""
    key = getattr(function, '__func__', function)
    found = _PARAMETERS.get(key)
    if found is None:
        context, *parameters = inspect.signature(function).parameters.values()
        named = [p for p in parameters if p.kind == p.POSITIONAL_OR_KEYWORD]
        found = _PARAMETERS[key] = (
            context.name, frozenset(p.name for p in named),
            tuple(p.name for p in named if p.default is p.empty),
            any(p.kind == p.VAR_KEYWORD for p in parameters))
    return found


def client_timeout(value):
    """The caller's timeout if usable for call-monitor heartbeats, else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if not math.isfinite(value) or not 2 <= value <= MAX_CLIENT_TIMEOUT_S:
        return None     # below 2 s oslo.messaging would warn on every call
    return value


class GuardedDispatcher(rpc_dispatcher.RPCDispatcher):
    """oslo.messaging's dispatcher behind checks of the whole envelope.

    Size, method name, version, namespace, argument names and the endpoint's
    signature are checked before oslo.messaging reads the message, and every
    refusal is a BusError (one rate-limited log line, never a traceback): a call
    gets it back, a cast is dropped.  An ``observer`` hears of each message:
    its method (``other`` for a name no endpoint exposes, so a sender cannot
    mint label values), its outcome (``ok`` or the error code) and seconds.
    """

    observer = None
    _exposed = None      # exposed_methods(self.endpoints), computed once

    def dispatch(self, incoming):
        if self.observer is None:
            return self._guarded_dispatch(incoming)
        started, code = time.monotonic(), 'ok'
        try:
            return self._guarded_dispatch(incoming)
        except Exception as exc:
            code = outcome_code(exc)
            raise
        finally:
            self._observe(incoming, code, time.monotonic() - started)

    def _observe(self, incoming, code, seconds):
        if self._exposed is None:
            self._exposed = exposed_methods(self.endpoints)
        message = incoming.message if isinstance(incoming.message, dict) else {}
        method = message.get('method')
        known = isinstance(method, str) and method in self._exposed
        try:
            self.observer(method if known else 'other', code, seconds)
        except Exception:   # metrics never fail a call
            LOG.exception('RPC observer failed')

    def _guarded_dispatch(self, incoming):
        try:
            self._check(incoming)
        except BusError as exc:
            refused = exc
        else:
            incoming.client_timeout = client_timeout(incoming.client_timeout)
            return super().dispatch(incoming)
        method = incoming.message.get('method') if isinstance(incoming.message, dict) else None
        refuse(shown(method), refused)

    def _check(self, incoming):
        size = message_size(incoming)
        if size is not None and size > CONF.rpc_max_message_bytes:
            raise invalid('message', f"{size} bytes is more than [DEFAULT] "
                          f"rpc_max_message_bytes ({CONF.rpc_max_message_bytes})")
        message = incoming.message
        if not isinstance(message, dict):
            raise invalid('message', f"expected an object, got {type(message).__name__}")
        method, version = check_method(message), check_version(message)
        namespace = message.get('namespace')
        if namespace is not None:
            raise BusError(NO_SUCH_METHOD, f"namespace: {shown(namespace)}: "
                           'these services have no namespaces')
        args = check_arguments(message)
        if not isinstance(incoming.ctxt, dict):
            raise invalid('context', 'expected an object')
        check_binding(self._endpoint_method(method, version), method, args)
        return method

    def _endpoint_method(self, method, version):
        compatible = [e for e in self.endpoints
                      if self._is_compatible(getattr(e, 'target', None) or
                                             self._default_target, version)]
        if not compatible:
            served = ', '.join(sorted({getattr(getattr(e, 'target', None), 'version', None)
                                       or '1.0' for e in self.endpoints}))
            raise BusError(UNSUPPORTED_VERSION, f"version {version} of {method}: this "
                           f"service serves {served}")
        for candidate in compatible:
            function = getattr(candidate, method, None)
            if function is not None and self.access_policy.is_allowed(candidate, method):
                return function
        raise BusError(NO_SUCH_METHOD, f"method: {method} is not a method of this service")


def get_notifier(publisher_id, url=None):
    """oslo.messaging's notifier as [oslo_messaging_notifications] configures it: its
    ``driver`` list (empty: sends nothing), ``topics`` and ``transport_url``."""
    transport = messaging.get_notification_transport(CONF, url=url)
    return messaging.Notifier(transport, publisher_id=publisher_id)


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
    rate-limited warning line); anything else is logged with its traceback
    (rate-limited too) and answered as InternalError.
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
            refused = exc
        except Exception as exc:
            ratelimit.rejections().log(logging.ERROR, '%s failed', method.__name__,
                                       exc_info=True)
            refused = BusError(INTERNAL_ERROR, ratelimit.clip(f"{method.__name__}: {exc}"))
        if refused.code == INTERNAL_ERROR:     # already logged with its traceback
            raise_expected(refused)
        refuse(method.__name__, refused)
    wrapper.exposed = True    # only @endpoint methods are callable (ExplicitRPCAccessPolicy)
    return wrapper


def raise_expected(error):
    """Raise ``error`` (a BusError) as oslo.messaging's ExpectedException: answered to a
    call, never logged again with a traceback by the server."""
    try:
        raise error
    except BusError:
        raise rpc_dispatcher.ExpectedException()


def refuse(what, error):
    """Log ``error`` as one rate-limited line about ``what`` and raise it for the caller.

    Call it outside an except block: oslo.log appends the exception in flight.
    """
    ratelimit.rejections().warning('%s rejected: %s', what, error.one_line())
    raise_expected(error)


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
