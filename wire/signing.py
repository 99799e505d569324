"""Who may say what on the bus: Ed25519-signed messages between agents and the scheduler.

Every message an agent sends (report_host, instance_update(s)) is signed with its
host's key; every message the scheduler sends to an agent (build_instance,
delete_instance, stop, start, reboot, console_log) with the scheduler's key.  The
signature travels in the RPC context under ``kvmfleet_signature`` (the signed
envelope, docs/rpc-api.md) and covers the method, the destination, every argument,
the signer's name, a timestamp and a random nonce.  The receiver checks it against
the key enrolled for the sender (wire.keys.KeyDirectory), refuses a timestamp
outside ``[signing] max_clock_skew`` and a nonce it has already seen (replay).

A refusal is a BusError with code ``Forbidden``: ``rpc.endpoint`` logs it as one
line and the service's state is untouched.
"""

import base64
import collections
import functools
import inspect
import json
import logging
import os
import threading
import time

from cryptography.exceptions import InvalidSignature
from oslo_config import cfg
from oslo_serialization import jsonutils

from wire import keys, rpc

LOG = logging.getLogger(__name__)
CONF = cfg.CONF

ENVELOPE_KEY = 'kvmfleet_signature'
ENVELOPE_VERSION = 1
FORBIDDEN = 'Forbidden'
NONCE_BYTES = 16

signing_opts = [
    cfg.BoolOpt('required', default=True,
                help='Refuse every agent report or result, and every scheduler order, that '
                     'is not signed by its sender\'s enrolled key. With False (only while '
                     'enrolling an existing fleet), unsigned messages are accepted from '
                     'senders that have no enrolled key yet; signed ones are still checked.'),
    cfg.IntOpt('max_clock_skew', default=60, min=1, max=3600,
               help='Seconds a signed message\'s timestamp may differ from this '
                    'service\'s clock; older or newer messages are refused (replay window).'),
    cfg.IntOpt('replay_cache_size', default=200000, min=100, max=10000000,
               help='Nonces of signed messages remembered within the replay window; when '
                    'full, further messages are refused until entries expire.'),
]
CONF.register_opts(signing_opts, group='signing')


def list_opts():
    return [('signing', signing_opts)]


def forbidden(method, reason):
    """The BusError of a refused message: one line naming the method and why."""
    return rpc.BusError(FORBIDDEN, f"{method}: {reason}")


def canonical(body):
    """The bytes that are signed: ``body`` as canonical JSON (sorted keys, ASCII).

    The body first takes the form it has after crossing the bus (a JSON round
    trip: tuples become lists, integer keys strings), so sender and receiver
    sign and check the same bytes.
    """
    plain = json.loads(jsonutils.dumps(body))
    return json.dumps(plain, sort_keys=True, separators=(',', ':'),
                      ensure_ascii=True).encode('ascii')


def _body(method, target, args, signer, timestamp_ms, nonce):
    return {'v': ENVELOPE_VERSION, 'method': method, 'target': target, 'args': args,
            'signer': signer, 'ts': timestamp_ms, 'nonce': nonce}


class Signer:
    """Signs messages with one private key; ``name`` is the signer it claims by default."""

    def __init__(self, private_key, name=None, clock=time.time):
        self.private_key = private_key
        self.name = name
        self.clock = clock

    def envelope(self, method, target, args, signer=None):
        """The ``kvmfleet_signature`` value for this message."""
        signer = signer or self.name
        timestamp_ms = int(self.clock() * 1000)
        nonce = os.urandom(NONCE_BYTES).hex()
        data = canonical(_body(method, target, args, signer, timestamp_ms, nonce))
        signature = base64.b64encode(self.private_key.sign(data)).decode('ascii')
        return {'v': ENVELOPE_VERSION, 'signer': signer, 'ts': timestamp_ms, 'nonce': nonce,
                'sig': signature}

    def context(self, method, target, args, signer=None, base=None):
        """An RPC context (``base`` plus the envelope) for this message."""
        ctxt = dict(base or {})
        ctxt[ENVELOPE_KEY] = self.envelope(method, target, args, signer)
        return ctxt


def context_for(signer, method, target, args, signer_name=None, base=None):
    """The signed context when there is a ``signer``, else ``base`` (unsigned)."""
    if signer is None:
        return dict(base or {})
    return signer.context(method, target, args, signer_name, base)


class ReplayGuard:
    """Nonces seen within the replay window, so a captured message is refused the second time.

    Bounded: entries expire with the window, and a full cache refuses rather than
    grows (only correctly signed messages reach it, so only key holders can fill it).
    """

    def __init__(self, window_s, capacity, clock=time.time):
        self.window_s = window_s
        self.capacity = capacity
        self.clock = clock
        self._lock = threading.Lock()
        self._seen = collections.OrderedDict()   # (signer, nonce) -> expiry, oldest first

    def remember(self, signer, nonce):
        """Record a nonce; returns None, or why it is refused."""
        now = self.clock()
        with self._lock:
            while self._seen:
                oldest, expiry = next(iter(self._seen.items()))
                if expiry > now:
                    break
                del self._seen[oldest]
            if (signer, nonce) in self._seen:
                return 'replayed (nonce already seen)'
            if len(self._seen) >= self.capacity:
                return f"replay cache full ({self.capacity} recent messages)"
            # 2 windows: a message is valid from ts - skew to ts + skew
            self._seen[(signer, nonce)] = now + 2 * self.window_s
        return None


# Any key in the receiver's key directory may sign (an agent trusts every enrolled
# scheduler); otherwise the signer must be the one the message speaks for.
ANY_ENROLLED = object()
MAX_SIGNER_LENGTH = 253


def _show(value, limit=60):
    """A hostile value as it may appear in a log line: repr'd (escapes) and cut."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + '...'


def _envelope_fields(method, envelope):
    """(signer, timestamp_ms, nonce, signature bytes) or Forbidden naming the bad field."""
    version = envelope.get('v') if isinstance(envelope, dict) else None
    if type(version) is not int or version != ENVELOPE_VERSION:     # not True, not 1.0
        raise forbidden(method, f"{ENVELOPE_KEY}: not a version {ENVELOPE_VERSION} envelope")
    signer, timestamp_ms = envelope.get('signer'), envelope.get('ts')
    nonce, signature = envelope.get('nonce'), envelope.get('sig')
    if not isinstance(signer, str) or not 0 < len(signer) <= MAX_SIGNER_LENGTH:
        raise forbidden(method, f"{ENVELOPE_KEY}.signer: not a name: {_show(signer)}")
    if not isinstance(timestamp_ms, int) or isinstance(timestamp_ms, bool):
        raise forbidden(method, f"{ENVELOPE_KEY}.ts: not an integer")
    if not isinstance(nonce, str) or len(nonce) != 2 * NONCE_BYTES:
        raise forbidden(method, f"{ENVELOPE_KEY}.nonce: not {2 * NONCE_BYTES} hex digits")
    try:
        raw = base64.b64decode(signature, validate=True) if isinstance(signature, str) else b''
    except ValueError:
        raw = b''
    if len(raw) != 64:
        raise forbidden(method, f"{ENVELOPE_KEY}.sig: not a base64 Ed25519 signature")
    return signer, timestamp_ms, nonce, raw


class Verifier:
    """Checks signed envelopes against a key directory (anything with ``get(name)``)."""

    def __init__(self, keys, required=True, max_skew_s=60, replay_capacity=200000,
                 clock=time.time):
        self.keys = keys
        self.required = required
        self.max_skew_s = max_skew_s
        self.clock = clock
        self.replays = ReplayGuard(max_skew_s, replay_capacity, clock)

    def verify(self, ctxt, method, target, args, expected=ANY_ENROLLED):
        """None if signed for ``target`` by ``expected`` (a host, or a tuple of hosts that
        share one key: a batch) or by any enrolled key; else Forbidden."""
        hosts = _expected_hosts(method, expected)
        envelope = ctxt.get(ENVELOPE_KEY) if isinstance(ctxt, dict) else None
        if envelope is None:
            if not self.required and not self._enrolled(hosts):
                return
            raise forbidden(method, f"unsigned message{_for(hosts)}")
        signer, timestamp_ms, nonce, signature = _envelope_fields(method, envelope)
        if hosts is not None and signer not in hosts:
            raise forbidden(method, f"signed by {_show(signer)}, not by {_hosts_text(hosts)}")
        key = self.keys.get(signer)
        if key is None:
            raise forbidden(method, f"no key enrolled for {_show(signer)}")
        skew_s = abs(self.clock() - timestamp_ms / 1000.0)
        if skew_s > self.max_skew_s:
            raise forbidden(method, f"timestamp {skew_s:.0f}s away from this clock (more than "
                                    f"[signing] max_clock_skew {self.max_skew_s}s)")
        _check_signature(method, key, signature,
                         _body(method, target, args, signer, timestamp_ms, nonce), signer)
        self._check_shared_key(method, key, signer, hosts)   # after: only key holders get here
        refused = self.replays.remember(signer, nonce)
        if refused:
            raise forbidden(method, f"{refused} from {_show(signer)}")

    def _check_shared_key(self, method, key, signer, hosts):
        """Every host a batch names must have the signer's key enrolled (a simulated fleet)."""
        raw = keys.raw_public(key)
        for host in hosts or ():
            other = self.keys.get(host) if host != signer else key
            if other is None or keys.raw_public(other) != raw:
                raise forbidden(method, f"names host {_show(host)}, whose enrolled key is not "
                                        f"the signer's ({_show(signer)})")

    def _enrolled(self, hosts):
        if hosts is None:
            names = getattr(self.keys, 'names', None)
            return bool(names()) if names else True
        return any(self.keys.get(host) is not None for host in hosts)


def _expected_hosts(method, expected):
    """None for any enrolled key, else the tuple of host names the message speaks for."""
    if expected is ANY_ENROLLED:
        return None
    hosts = (expected,) if isinstance(expected, str) else expected
    if isinstance(hosts, tuple) and hosts and all(isinstance(h, str) for h in hosts):
        return hosts
    raise forbidden(method, 'the message names no sender to check it against')


def _hosts_text(hosts):
    if len(hosts) == 1:
        return f"host {_show(hosts[0])}"
    return f"hosts {_show(hosts[0])} and {len(hosts) - 1} more"


def _for(hosts):
    return '' if hosts is None else f" for {_hosts_text(hosts)}"


def _check_signature(method, key, signature, body, signer):
    try:
        key.verify(signature, canonical(body))
    except InvalidSignature:
        raise forbidden(method, f"bad signature for {_show(signer)} (not its enrolled key, "
                                f"or the message was changed)") from None
    except (TypeError, ValueError, RecursionError) as exc:
        raise forbidden(method, f"arguments cannot be canonicalised: {exc}") from None


def verified(signer_of, target_of):
    """Endpoint decorator: the message must be signed before the method runs.

    ``signer_of(self, kwargs)`` names who must have signed (or ANY_ENROLLED),
    ``target_of(self)`` the destination the signature must name.  Does nothing on
    an endpoint object whose ``verifier`` is None (library use, unit tests); the
    services always set one (docs/operations.md, Message signing).  Put it under
    ``@rpc.endpoint``.
    """
    def decorate(method):
        parameters = inspect.signature(method)

        @functools.wraps(method)
        def wrapper(self, ctxt, **kwargs):
            verifier = getattr(self, 'verifier', None)
            if verifier is not None:     # first: nothing unauthenticated is even parsed
                verifier.verify(ctxt, method.__name__, target_of(self), kwargs,
                                signer_of(self, kwargs))
            try:     # wrong or missing arguments: InvalidInput, as rpc.endpoint says
                parameters.bind(self, ctxt, **kwargs)
            except TypeError as exc:
                raise rpc.invalid(method.__name__, str(exc)) from None
            return method(self, ctxt, **kwargs)
        return wrapper
    return decorate


def load_signer(path, required, hint, name=None):
    """A Signer over the private key in ``path``; None when absent and not ``required``.

    Required, an unreadable key raises KeyFileError naming the file and ``hint``
    (how to make one): the service does not start.
    """
    try:
        private_key = keys.load_private_key(path)
    except keys.KeyFileError as exc:
        if required:
            raise keys.KeyFileError(f"{exc} ({hint})") from None
        LOG.warning('Messages are not signed: %s', exc)
        return None
    return Signer(private_key, name=name)


def directory_verifier(path, conf=CONF):
    """A Verifier over the key directory ``path`` with the [signing] settings of ``conf``."""
    directory = keys.KeyDirectory(path)
    LOG.info('%d key(s) enrolled in %s; unsigned messages are %s', len(directory.names()),
             path, 'refused' if conf.signing.required else 'accepted from unenrolled senders')
    for name, problem in sorted(directory.problems.items()):
        LOG.warning('Enrolled key %s unusable: %s', name, problem)
    return Verifier(directory, required=conf.signing.required,
                    max_skew_s=conf.signing.max_clock_skew,
                    replay_capacity=conf.signing.replay_cache_size)


def path_opts(*declarations):
    """StrOpts of the [signing] group from ``(name, default path, help)`` declarations.

    The scheduler and the agent each declare their own key file and key directory
    (scheduler/trust.py, agent/trust.py) and register them here.
    """
    opts = [cfg.StrOpt(name, default=default, help=text) for name, default, text in declarations]
    CONF.register_opts(opts, group='signing')
    return opts
