"""The fast paths (wire.lazy_fields, parse_cpuset's C-level checks) agree with
the checking path: the same result or the same error text, valid input or not."""

from hypothesis import given, settings
from hypothesis import strategies as st

from wire import fields
from wire import lazy_fields as lazy
from wire.cpuset import _as_cpu, _parse_text, parse_cpuset
from wire.errors import FieldError

CPU_ITEMS = st.one_of(st.integers(-3, 70), st.booleans(), st.none(), st.floats(0, 5),
                      st.sampled_from(['1', 'a', '']))
CPU_LISTS = st.lists(CPU_ITEMS, max_size=8) | st.lists(st.integers(0, 70), max_size=8)
CPU_TOKEN = st.one_of(
    st.integers(-2, 70).map(str),
    st.tuples(st.integers(0, 70), st.integers(0, 70)).map(lambda t: f"{t[0]}-{t[1]}"),
    st.sampled_from(['', ' ', 'a', '-', '3-', '^', '1--2', ' 4 ', '+5', '\u0663', '0x1']))
CPU_TEXT = (st.lists(st.tuples(st.booleans(), CPU_TOKEN).map(lambda t: '^' * t[0] + t[1]),
                     max_size=5).map(','.join)
            | st.text(alphabet='0123-^, a', max_size=6))
CPU_VALUES = CPU_LISTS | CPU_TEXT | st.tuples(st.integers(0, 9)) | st.integers() | st.none()
INT_VALUES = st.one_of(st.integers(-5, 5000), st.booleans(), st.none(), st.floats(-2, 9),
                       st.text(alphabet='0123456789- +a', max_size=5),
                       st.sampled_from(['007', ' 3', '-0', '4096', '٣']))


def checked_cpuset(value):
    """parse_cpuset without its fast paths: no cache, every distinct id checked in Python."""
    if value is None or isinstance(value, str):
        return frozenset() if value is None else _parse_text.__wrapped__(value)
    try:
        cpus = frozenset(value)
    except TypeError:
        return parse_cpuset(value)   # raises: not iterable is not a fast-path matter
    for cpu in cpus:
        _as_cpu(cpu)
    return cpus


def outcome(function, *args):
    """('ok', result) or (exception type name, message) of one call."""
    try:
        return 'ok', function(*args)
    except Exception as exc:   # noqa: BLE001 - the point is to compare any failure
        return type(exc).__name__, str(exc)


@settings(max_examples=400, deadline=None)
@given(CPU_VALUES)
def test_parse_cpuset_agrees_with_the_checking_path(value):
    assert outcome(parse_cpuset, value) == outcome(checked_cpuset, value)
    assert outcome(parse_cpuset, value) == outcome(checked_cpuset, value)   # cached strings


@settings(max_examples=400, deadline=None)
@given(CPU_VALUES)
def test_lazy_cpuset_agrees_with_fields(value):
    assert outcome(lazy.cpuset, value, 'host.cells[0]', '.cpus') == \
        outcome(fields.cpuset, value, 'host.cells[0].cpus')


@settings(max_examples=400, deadline=None)
@given(st.lists(CPU_VALUES, max_size=5) | st.tuples(CPU_LISTS) | CPU_TEXT | st.none())
def test_lazy_cpusets_agrees_with_fields(values):
    def checked(values):
        listed = fields.listing(values, 'c.siblings')
        return tuple(fields.cpuset(s, f"c.siblings[{i}]") for i, s in enumerate(listed))
    assert outcome(lazy.cpusets, values, 'c', '.siblings') == outcome(checked, values)


@settings(max_examples=400, deadline=None)
@given(INT_VALUES, st.sampled_from([0, 1, 4]))
def test_lazy_integer_agrees_with_fields(value, minimum):
    fast = outcome(lazy.integer, value, 'host.cells[1]', '.memory_mb', minimum)
    assert fast == outcome(fields.integer, value, 'host.cells[1].memory_mb', minimum)
    if fast[0] == 'ok':
        assert type(fast[1]) is int


def test_lazy_errors_name_the_whole_field():
    try:
        lazy.integer('x', 'hosts[3].cells[1]', '.id')
    except FieldError as exc:
        assert (exc.field, exc.rule) == ('hosts[3].cells[1].id', "'x' is not an integer")
    else:
        raise AssertionError('no error')
