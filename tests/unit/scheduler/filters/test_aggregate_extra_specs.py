"""aggregate_instance_extra_specs: Nova's operators against aggregate metadata."""

import pytest

from scheduler.filters.aggregate_extra_specs import AggregateExtraSpecsFilter, matches
from scheduler.filters.base import AGGREGATE_EXTRA_SPEC_MISMATCH
from tests.unit.scheduler.helpers import replace, request, state_of, two_socket


@pytest.mark.parametrize('value, requirement, expected', [
    ('ssd', 'ssd', True),
    ('ssd', 'hdd', False),
    ('4', '= 3', True),            # '=' is numeric at-least
    ('2', '= 3', False),
    ('3', '== 3', True),
    ('3.0', '== 3', True),
    ('4', '== 3', False),
    ('4', '!= 3', True),
    ('4', '>= 4', True),
    ('4', '<= 3', False),
    ('abc', 's== abc', True),
    ('abd', 's!= abc', True),
    ('b', 's> a', True),
    ('a', 's< b', True),
    ('b', 's>= c', False),
    ('b', 's<= c', True),
    ('fast-nvme', '<in> nvme', True),
    ('fast-ssd', '<in> nvme', False),
    ('avx avx2 sse', '<all-in> avx2 avx', True),
    ('avx sse', '<all-in> avx2 avx', False),
    ('gold', '<or> silver <or> gold', True),
    ('bronze', '<or> silver <or> gold', False),
    ('x', '= notanumber', False),
])
def test_matches(value, requirement, expected):
    assert matches(value, requirement) is expected


def _state(aggregates):
    return state_of(two_socket('a', aggregates=aggregates))


def _spec(**specs):
    return replace(request().build(), aggregate_specs=specs)


@pytest.mark.parametrize('aggregates, specs, passes, words', [
    ({'ag1': {'storage': 'nvme'}}, {'storage': 'nvme'}, True, None),
    ({'ag1': {'storage': 'ssd'}, 'ag2': {'storage': 'nvme'}}, {'storage': 'nvme'}, True, None),
    ({'ag1': {'storage': 'ssd,nvme'}}, {'storage': 'nvme'}, True, None),   # comma lists
    ({'ag1': {'storage': 'ssd'}}, {'storage': 'nvme'}, False, 'storage=ssd'),
    ({'ag1': {}}, {'storage': 'nvme'}, False, 'no aggregate of the host sets storage'),
    ({}, {'storage': 'nvme'}, False, 'no aggregate'),
    ({'ag1': {'gen': '4', 'storage': 'nvme'}}, {'gen': '>= 3', 'storage': 'nvme'}, True, None),
    ({'ag1': {'gen': '2', 'storage': 'nvme'}}, {'gen': '>= 3', 'storage': 'nvme'}, False, 'gen'),
])
def test_filter(aggregates, specs, passes, words):
    verdict = AggregateExtraSpecsFilter().host_passes(_state(aggregates), _spec(**specs))
    if passes:
        assert verdict is None
    else:
        assert verdict.reason == AGGREGATE_EXTRA_SPEC_MISMATCH
        assert words in verdict.detail


def test_scoped_keys_are_accepted_too():
    spec = _spec(**{'aggregate_instance_extra_specs:storage': 'nvme'})
    assert AggregateExtraSpecsFilter().host_passes(_state({'a': {'storage': 'nvme'}}),
                                                   spec) is None


def test_static_key_follows_the_request():
    plugin = AggregateExtraSpecsFilter()
    assert plugin.static and not plugin.applies(_spec())
    assert plugin.static_key(_spec(a='1')) != plugin.static_key(_spec(a='2'))
