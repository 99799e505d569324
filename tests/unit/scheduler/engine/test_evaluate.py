"""Engine.evaluate: one host judged by the decision's own path (every filter, then the fit)."""

import dataclasses

import pytest

from tests.unit.scheduler.helpers import engine, fleet_of, replace, request, two_socket
from wire.assignment import Assignment
from wire.request_spec import ServerGroup

PINNED = request(2, 1024, 'pinned').numa(1).dedicated().build()
ANTI = dataclasses.replace(PINNED, server_group=ServerGroup('web', 'anti-affinity'))


def _verdict(spec, fleet, name='a'):
    return engine().evaluate(spec, fleet, name, 'vm')


def test_a_host_that_passes_every_filter_gets_the_exact_fit():
    result = _verdict(PINNED, fleet_of(two_socket('a'), two_socket('b')))
    assert isinstance(result, Assignment)
    assert (result.host, result.instance, len(result.pinned_pcpus)) == ('a', 'vm', 2)


@pytest.mark.parametrize('change, reason', [
    ({'enabled': False}, 'HOST_DISABLED'),
    ({'up': False}, 'HOST_DOWN'),
])
def test_a_static_filter_is_asked_on_the_host_as_it_is_now(change, reason):
    assert _verdict(PINNED, fleet_of(replace(two_socket('a'), **change))).reason == reason


def test_a_required_trait_is_asked():
    spec = dataclasses.replace(PINNED, required_traits=frozenset({'CUSTOM_FAST'}))
    assert _verdict(spec, fleet_of(two_socket('a'))).reason == 'TRAIT_MISSING'
    fast = replace(two_socket('a'), traits=frozenset({'CUSTOM_FAST'}))
    assert isinstance(_verdict(spec, fleet_of(fast)), Assignment)


def test_a_member_placed_since_is_counted_by_anti_affinity():
    fleet = fleet_of(two_socket('a'), two_socket('b'))
    placed = engine().place(ANTI, fleet, ['first']).assignments[0]
    fleet.apply(placed, 'web')
    assert _verdict(ANTI, fleet, placed.host).reason == 'SERVER_GROUP_ANTI_AFFINITY'
    other = 'b' if placed.host == 'a' else 'a'
    assert isinstance(_verdict(ANTI, fleet, other), Assignment)


def test_the_fit_decides_after_the_filters_and_nothing_is_changed():
    fleet = fleet_of(two_socket('a'))
    before = fleet.state('a')
    big = request(64, 1024, 'big').numa(1).dedicated().build()
    assert _verdict(big, fleet).reason in ('NUMA_CELL_NO_FREE_PCPUS', 'NUMA_CELL_NO_FREE_CORES')
    assert fleet.state('a') is before
