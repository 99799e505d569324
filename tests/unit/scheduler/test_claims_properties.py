"""A build retried on an alternate respects every filter, on the fleet as it is now (hypothesis).

Random fleets whose hosts were disabled, lost a trait or took members of the request's
server group after the alternates were chosen: ``claims.replace_on_alternate`` claims the
first alternate (not tried yet) that every enabled filter passes, each filter asked on its
own here, and that the exact fit accepts; none when there is none.
"""

import contextlib
import dataclasses

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler import claims
from scheduler.engine import EngineSettings, build_engine
from scheduler.engine.fleet import FleetView
from scheduler.filters.server_group import AffinityFilter
from scheduler.fitting.fit import fit
from tests.unit.scheduler.fitting.strategies import hosts, requests
from wire.assignment import Assignment
from wire.request_spec import ServerGroup

ENGINE = build_engine(EngineSettings(seed=1))
TRAITS = ('CUSTOM_A', 'CUSTOM_B')
POLICIES = ('affinity', 'anti-affinity', 'soft-affinity', 'soft-anti-affinity')


class _Store:
    """Claims always succeed (conflicts and refits are test_claims' subject)."""

    def __init__(self):
        self.claimed = []

    def claim(self, assignment, expected, now=None, new_instance=None):
        self.claimed.append(assignment)
        return expected + 1

    def decision_turn(self):
        return contextlib.nullcontext()     # one scheduler: always its turn


class _State:
    """What replace_on_alternate reads of the scheduler's WarmState."""

    def __init__(self, fleet):
        self.fleet, self.store, self.generations = fleet, _Store(), {}

    def clock(self):
        return 0.0

    def catch_up(self):
        """One scheduler alone: nothing to catch up with."""

    def applied(self, assignment, server_group, generation):
        self.fleet.apply(assignment, server_group)
        self.generations[assignment.host] = generation


@st.composite
def _host(draw, index):
    return dataclasses.replace(
        draw(hosts()), name=f'h{index}', enabled=draw(st.booleans()),
        up=draw(st.sampled_from((True, True, False))),
        traits=frozenset(draw(st.sets(st.sampled_from(TRAITS)))))


@st.composite
def _request(draw):
    spec = draw(requests())
    group = None
    if draw(st.booleans()):
        group = ServerGroup('g', draw(st.sampled_from(POLICIES)),
                            draw(st.sampled_from((None, None, 2))))
    return dataclasses.replace(spec, server_group=group,
                               required_traits=frozenset(draw(st.sets(st.sampled_from(TRAITS),
                                                                      max_size=1))))


def _passes_every_filter(state, spec, fleet):
    """Every filter of the engine that applies, each asked directly."""
    for plugin in ENGINE.filters:
        if not plugin.applies(spec):
            continue
        if isinstance(plugin, AffinityFilter):
            verdict = plugin.host_passes(state, spec,
                                         bool(fleet.group_hosts(spec.server_group.name)))
        else:
            verdict = plugin.host_passes(state, spec)
        if verdict is not None:
            return False
    return True


def _expected_host(fleet, spec, alternates, tried):
    for name in alternates:
        if name in tried:
            continue
        state = fleet.state(name)
        if _passes_every_filter(state, spec, fleet) and isinstance(
                fit(state.topology, state.usage, spec, ENGINE.policy, 'x'), Assignment):
            return name
    return None


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(2, 4).flatmap(lambda n: st.tuples(*(_host(i) for i in range(n)))),
       _request(), st.data())
def test_a_reschedule_claims_the_first_alternate_that_passes_every_filter(topologies, spec,
                                                                          data):
    fleet = FleetView(topologies)
    names = [t.name for t in topologies]
    if spec.server_group is not None:       # members placed after the alternates were chosen
        for name in data.draw(st.lists(st.sampled_from(names), max_size=3)):
            state = fleet.state(name)
            member = dataclasses.replace(spec, server_group=None, required_traits=frozenset())
            placed = fit(state.topology, state.usage, member, ENGINE.policy, f'm-{name}')
            if isinstance(placed, Assignment):
                fleet.apply(placed, spec.server_group.name)
    alternates = data.draw(st.permutations(names))
    tried = set(data.draw(st.lists(st.sampled_from(names), max_size=2)))
    expected = _expected_host(fleet, spec, alternates, tried)
    state = _State(fleet)
    result = claims.replace_on_alternate(ENGINE, state, spec, 'vm', alternates, tried)
    if expected is None:
        assert result is None and state.store.claimed == []
    else:
        assert isinstance(result, Assignment) and result.host == expected
        assert state.store.claimed == [result]
