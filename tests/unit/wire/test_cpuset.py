import pytest

from wire.cpuset import CpuSetError, format_cpuset, parse_cpuset


@pytest.mark.parametrize('text, expected', [
    ('0-3', {0, 1, 2, 3}),
    ('0-3,^2', {0, 1, 3}),
    ('0, 4 ,8-9', {0, 4, 8, 9}),
    ('0-7,^2-5', {0, 1, 6, 7}),
    ('', set()),
    ([3, 1], {1, 3}),
    (None, set()),
])
def test_parse_cpuset(text, expected):
    assert parse_cpuset(text) == frozenset(expected)


@pytest.mark.parametrize('text, message', [
    ('3-1', 'range end is below its start'),
    ('a', 'not a CPU id or range'),
    ('-1', 'not a CPU id or range'),
    ([1, -2], 'non-negative integer'),
    ([True], 'non-negative integer'),
    (7, 'expected a CPU list'),
])
def test_parse_cpuset_rejects(text, message):
    with pytest.raises(CpuSetError, match=message):
        parse_cpuset(text)


@pytest.mark.parametrize('cpus, text', [
    ({0, 1, 2, 5}, '0-2,5'), ({7}, '7'), (set(), ''), ({1, 3, 4, 5, 9, 10}, '1,3-5,9-10'),
])
def test_format_cpuset_round_trips(cpus, text):
    assert format_cpuset(cpus) == text
    assert parse_cpuset(text) == frozenset(cpus)
