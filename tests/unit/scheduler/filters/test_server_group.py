"""Hard server-group policies, with members counted per host."""

import dataclasses

from scheduler.engine import RequestContext
from scheduler.engine.fleet import FleetView
from scheduler.filters.base import SERVER_GROUP_AFFINITY, SERVER_GROUP_ANTI_AFFINITY
from scheduler.filters.server_group import AffinityFilter, AntiAffinityFilter
from tests.unit.scheduler.helpers import engine, replace, request, two_socket
from wire.request_spec import ServerGroup


def _spec(policy, max_server_per_host=None):
    return replace(request(2, 1024).build(),
                   server_group=ServerGroup('g', policy, max_server_per_host))


def _fleet_with_member_on_a():
    fleet = FleetView([two_socket('a'), two_socket('b')])
    placed = engine().place(request(2, 1024).build(), fleet, ['m1'])
    assignment = placed.assignments[0]
    fleet.apply(assignment, 'g')
    return fleet, assignment.host


def _check(plugin, spec, fleet):
    context = RequestContext(spec, None, fleet.scratch())
    return plugin.prepare(spec, context)


def test_anti_affinity_rejects_hosts_with_members():
    fleet, member_host = _fleet_with_member_on_a()
    other = 'b' if member_host == 'a' else 'a'
    check = _check(AntiAffinityFilter(), _spec('anti-affinity'), fleet)
    verdict = check(fleet.state(member_host))
    assert verdict.reason == SERVER_GROUP_ANTI_AFFINITY and '1 member' in verdict.detail
    assert check(fleet.state(other)) is None


def test_anti_affinity_allows_max_server_per_host_members():
    fleet, member_host = _fleet_with_member_on_a()
    check = _check(AntiAffinityFilter(), _spec('anti-affinity', 2), fleet)
    assert check(fleet.state(member_host)) is None          # 1 of 2
    placed = engine().place(request(2, 1024).build(), fleet, ['m2'], )
    fleet.apply(dataclasses.replace(placed.assignments[0], host=member_host), 'g')
    check = _check(AntiAffinityFilter(), _spec('anti-affinity', 2), fleet)
    verdict = check(fleet.state(member_host))                # 2 of 2
    assert verdict.reason == SERVER_GROUP_ANTI_AFFINITY
    assert '2 member(s)' in verdict.detail and 'max_server_per_host 2' in verdict.detail


def test_affinity_keeps_to_member_hosts_once_the_group_has_members():
    fleet, member_host = _fleet_with_member_on_a()
    other = 'b' if member_host == 'a' else 'a'
    check = _check(AffinityFilter(), _spec('affinity'), fleet)
    assert check(fleet.state(member_host)) is None
    assert check(fleet.state(other)).reason == SERVER_GROUP_AFFINITY


def test_affinity_first_member_goes_anywhere():
    fleet = FleetView([two_socket('a'), two_socket('b')])
    check = _check(AffinityFilter(), _spec('affinity'), fleet)
    assert check(fleet.state('a')) is None and check(fleet.state('b')) is None


def test_filters_apply_only_to_their_policy():
    assert AffinityFilter().applies(_spec('affinity'))
    assert not AffinityFilter().applies(_spec('soft-affinity'))
    assert AntiAffinityFilter().applies(_spec('anti-affinity'))
    assert not AntiAffinityFilter().applies(request().build())
