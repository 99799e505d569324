"""Hostile RPC messages for the fuzz tests of both services (in process and on RabbitMQ).

``messages(templates)`` is a hypothesis strategy of whole oslo.messaging message
dicts ({method, version, args, namespace?}): every method of a service with its
valid arguments mutated (a value swapped for a hostile one, a key dropped or
added), bad versions, bad or private method names, args that are not objects.
"""

import contextlib
import random
import resource
import time

import sqlalchemy
from hypothesis import strategies as st

from wire import rpc, signing

# What a service may answer over the bus (docs/rpc-api.md, "Errors"); InternalError is
# a bug and never expected.
DOCUMENTED_CODES = frozenset((rpc.INVALID_INPUT, rpc.NO_VALID_HOST, rpc.NOT_FOUND,
                              rpc.CONFLICT, rpc.OPERATION_FAILED, rpc.NO_SUCH_METHOD,
                              rpc.UNSUPPORTED_VERSION, signing.FORBIDDEN))
# Refusals of the message itself: nothing may change.
REFUSALS = frozenset((rpc.INVALID_INPUT, rpc.NO_SUCH_METHOD, rpc.UNSUPPORTED_VERSION,
                      signing.FORBIDDEN))

HOSTILE_STRINGS = (
    '', ' ', '²', '٣', '--5', '0x10', '1e9', '-1', '0-300000000', '0-3,^1', 'NaN', 'inf',
    '\x00', 'a\x00b', '\ud800', 'x\udfff', '\u202egnp.exe', 'Ⅻ', '../../etc/passwd',
    '<domain/>', "'; DROP TABLE hosts; --", '%s%s%n', '{}', '[]', 'x' * 300, 'é' * 5000,
    '\n\r\t', 'ACTIVE', 'running', 'type-VF', '1.0', '99.99', '_find', '__init__',
    '6F1C3B52-93A4-4D5E-8C1A-0B2D3E4F5A61', 'hw:numa_nodes', 'x:²',
)
HOSTILE_NUMBERS = (0, -1, 1, 2 ** 31, 2 ** 63, -2 ** 63, 2 ** 64 + 1, 10 ** 30, 300000000,
                   1.5, -0.0, 1e308, float('inf'), float('-inf'), float('nan'), True, False)
BAD_VERSIONS = ('x.y', '1', '².0', '1.0.0.0', '', ' 1.0', '1.0 ', '-1.0', '1.-1', '9' * 50,
                1.0, 1, None, [], {}, '2.0', '1.9', '1.1.5')
BAD_METHODS = ('_find', '__init__', '__class__', 'check_hosts', 'target', 'lock', 'store',
               'x' * 100, '', 'Boot', 'boot ', 'report', 'domains', 'startup', 'nothing',
               None, 7, [], {'a': 1})

scalars = st.one_of(
    st.none(), st.booleans(), st.sampled_from(HOSTILE_NUMBERS), st.integers(),
    st.floats(allow_nan=False), st.sampled_from(HOSTILE_STRINGS),
    st.text(max_size=20), st.text(alphabet=st.characters(codec='utf-8'), max_size=8))
# The known-hostile values first and as often as everything else together.
hostile = st.one_of(
    st.sampled_from(HOSTILE_STRINGS + HOSTILE_NUMBERS),
    st.recursive(scalars, lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(HOSTILE_STRINGS), st.text(max_size=8)),
                        inner, max_size=4)), max_leaves=12))


def _paths(value, prefix=(), depth=3):
    """Every (path) to a dict key or list item in ``value``, down to ``depth``."""
    if depth == 0:
        return []
    items = value.items() if isinstance(value, dict) else (
        enumerate(value) if isinstance(value, list) else ())
    paths = []
    for key, child in items:
        paths.append(prefix + (key,))
        paths.extend(_paths(child, prefix + (key,), depth - 1))
    return paths


def _replaced(value, path, new, drop=False):
    """A copy of ``value`` with the item at ``path`` set to ``new`` (or dropped)."""
    if not path:
        return new
    copy = dict(value) if isinstance(value, dict) else list(value)
    head, rest = path[0], path[1:]
    if rest:
        copy[head] = _replaced(copy[head], rest, new, drop)
    elif drop and isinstance(copy, dict):
        del copy[head]
    else:
        copy[head] = new
    return copy


class DrawChooser:
    """Choices drawn by hypothesis (shrinkable): for the in-process fuzz tests."""

    def __init__(self, draw):
        self.draw = draw

    def choice(self, items):
        return self.draw(st.sampled_from(items))

    def integer(self, low, high):
        return self.draw(st.integers(low, high))

    def value(self):
        return self.draw(hostile)


class RandomChooser:
    """Choices from a seeded random.Random: thousands of messages a second, for floods."""

    def __init__(self, rng):
        self.rng = rng

    def choice(self, items):
        return self.rng.choice(list(items))

    def integer(self, low, high):
        return self.rng.randint(low, high)

    def value(self, depth=0):
        roll = self.rng.random()
        if roll < 0.5 or depth >= 2:
            return self.rng.choice(HOSTILE_STRINGS + HOSTILE_NUMBERS)
        if roll < 0.7:
            return self.rng.choice((None, self.rng.randint(-2 ** 70, 2 ** 70),
                                    self.rng.random() * 10 ** self.rng.randint(0, 300),
                                    ''.join(chr(self.rng.randint(1, 0x10FFFF))
                                            for _ in range(self.rng.randint(0, 12)))))
        if roll < 0.85:
            return [self.value(depth + 1) for _ in range(self.rng.randint(0, 4))]
        return {self.rng.choice(HOSTILE_STRINGS): self.value(depth + 1)
                for _ in range(self.rng.randint(0, 4))}


def mutate(chooser, template):
    """``template`` (valid arguments) with one to three places made hostile."""
    value = template
    for _ in range(chooser.integer(1, 3)):
        paths = _paths(value)
        if not paths:
            break
        path = chooser.choice(paths)
        value = _replaced(value, path, chooser.value(), drop=chooser.integer(0, 1) == 1)
    if chooser.integer(0, 9) == 0:          # an unknown argument now and then
        value = dict(value, **{chooser.choice(('bogus', 'ctxt', 'self', 'kwargs')): 1})
    return value


def build_message(chooser, templates, version='1.0'):
    """A whole message for a service whose valid arguments per method are ``templates``."""
    kind = chooser.integer(0, 19)
    method = chooser.choice(sorted(templates))
    args = templates[method]
    if kind == 0:
        method = chooser.choice(BAD_METHODS)
    elif kind == 1:
        version = chooser.choice(BAD_VERSIONS)
    elif kind == 2:
        args = chooser.choice(([], 'args', None, 3, chooser.value()))
    elif kind == 3:
        args = {}
    else:
        args = mutate(chooser, args)
    message = {'method': method, 'version': version, 'args': args}
    if kind == 4:
        message['namespace'] = chooser.value()
    return message


@st.composite
def messages(draw, templates, version='1.0'):
    """Hypothesis strategy of build_message's messages."""
    return build_message(DrawChooser(draw), templates, version)


def random_messages(seed, templates, count, version='1.0'):
    """``count`` messages of build_message from a seeded generator."""
    chooser = RandomChooser(random.Random(seed))
    return [build_message(chooser, templates, version) for _ in range(count)]


def store_dump(store):
    """Every row of every table of a scheduler store, for before/after comparisons."""
    from scheduler.store import models
    with store.engine.connect() as conn:
        return {table.name: sorted(map(repr, conn.execute(sqlalchemy.select(table))))
                for table in models.Base.metadata.sorted_tables}


class Incoming:
    """The part of an oslo.messaging incoming message a dispatcher reads."""

    def __init__(self, message):
        self.message = message
        self.ctxt = {}
        self.client_timeout = None


def dispatch(guard, message):
    """(code, answer): code None when the call returned; any other exception propagates."""
    from oslo_messaging.rpc import dispatcher as rpc_dispatcher
    try:
        return None, guard.dispatch(Incoming(message))
    except rpc_dispatcher.ExpectedException as caught:
        error = caught.exc_info[1]
        if not isinstance(error, rpc.BusError):
            raise
        return error.code, error


@contextlib.contextmanager
def address_space_cap(extra_bytes=1 << 30):
    """Cap this process's address space at what it uses now plus ``extra_bytes`` (1 GiB),
    so one input that tries to allocate without bound fails (MemoryError) instead of
    growing the process; the previous limit comes back afterwards."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open('/proc/self/status', encoding='ascii') as status:
        used_kb = next(int(line.split()[1]) for line in status if line.startswith('VmSize:'))
    cap = used_kb * 1024 + extra_bytes
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield cap
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


ANSWER_TIME_LIMIT_S = 2.0


def checked_answer(guard, message, time_limit=ANSWER_TIME_LIMIT_S):
    """(code, answer) of ``message``, asserted to be a documented answer given within
    ``time_limit`` seconds and 1 GiB more address space."""
    started = time.monotonic()
    with address_space_cap():
        code, answer = dispatch(guard, message)
    assert time.monotonic() - started < time_limit, message
    assert code is None or code in DOCUMENTED_CODES, answer.message
    return code, answer


def exposed_methods(endpoint):
    """Names of ``endpoint``'s methods callable over the bus."""
    return {name for name in dir(endpoint)
            if getattr(getattr(endpoint, name, None), 'exposed', False)}
