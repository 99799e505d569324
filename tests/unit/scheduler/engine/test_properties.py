"""Invariants of the engine over random fleets and requests (hypothesis).

* a multi-instance placement never gives a pCPU, a PCI device (or a PF and
  one of its VFs) or a hugepage twice, and stays within every pool;
* it is all-or-nothing down to min_count;
* the bulk necessary check never rejects a host the exact fit accepts;
* neither does the quick reject on the summaries the fleet view keeps warm
  (placements, releases, a request's earlier instances), which equal fresh ones.
"""

import dataclasses

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.engine import EngineSettings, build_engine
from scheduler.engine.fleet import FleetView
from scheduler.fitting.fit import fit
from scheduler.fitting.necessary import necessary_check
from scheduler.fitting.policy import FitPolicy
from scheduler.fitting.summary import HostSummary, RequestNeeds
from tests.unit.scheduler.fitting.strategies import hosts, requests
from wire.assignment import Assignment

ENGINE = build_engine(EngineSettings(fit_candidates=2))
PROPERTY = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def fleets(draw):
    count = draw(st.integers(1, 3))
    return [dataclasses.replace(draw(hosts()), name=f'h{i}') for i in range(count)]


def _prefill(fleet, specs):
    for index, spec in enumerate(specs):
        placement = ENGINE.place(spec, fleet, [f'old{index}'])
        for assignment in placement.assignments:
            fleet.apply(assignment)


def _check_no_double_use(fleet, assignments):
    by_host = {}
    for assignment in assignments:
        by_host.setdefault(assignment.host, []).append(assignment)
    for name, placed in by_host.items():
        state = fleet.state(name)
        pinned, devices, usage = set(state.usage.pinned), set(state.usage.pci_used), state.usage
        for assignment in placed:
            assert not pinned & assignment.pinned_pcpus
            pinned |= assignment.pinned_pcpus
            addresses = {d.address for d in assignment.pci_devices}
            assert len(addresses) == len(assignment.pci_devices)
            assert not devices & addresses
            devices |= addresses
            usage = usage.consume(assignment)
        topology = state.topology
        parents = {d.address: d.parent for d in topology.pci_devices}
        assert not any(parents.get(address) in devices for address in devices)
        for cell in topology.cells:
            assert not (pinned - set(state.usage.pinned)) & cell.shared_cpus
            for size_kb, count in cell.pages.items():
                assert usage.pages_used(cell.id, size_kb) <= count


@PROPERTY
@given(fleets(), st.lists(requests(), max_size=3), requests(), st.integers(1, 4),
       st.integers(1, 4))
def test_multi_instance_placement_invariants(topologies, earlier, spec, count, minimum):
    fleet = FleetView(topologies)
    _prefill(fleet, earlier)
    minimum = min(minimum, count)
    spec = dataclasses.replace(spec, count=count, min_count=minimum)
    before = {s.name: s for s in fleet.hosts()}
    placement = ENGINE.place(spec, fleet, [f'new{i}' for i in range(count)])
    assert all(fleet.state(name) is state for name, state in before.items())
    placed = len(placement.assignments)
    assert placed == 0 or minimum <= placed <= count
    if placed == 0:
        assert placement.explanation is not None and placement.alternates == {}
    assert [a.instance for a in placement.assignments] == [f'new{i}' for i in range(placed)]
    _check_no_double_use(fleet, placement.assignments)


@PROPERTY
@given(hosts(), st.lists(requests(), max_size=4), requests())
def test_necessary_check_never_rejects_a_fitting_host(topology, earlier, spec):
    fleet = FleetView([topology])
    _prefill(fleet, earlier)
    state = fleet.state(topology.name)
    policy = FitPolicy()
    if isinstance(fit(topology, state.usage, spec, policy, 'x'), Assignment):
        assert necessary_check(RequestNeeds.of(spec, policy))(state.summary)


@PROPERTY
@given(fleets(), st.lists(requests(), max_size=4), st.data(), requests(), st.integers(1, 3))
def test_the_warm_summary_never_contradicts_the_exact_fit(topologies, earlier, data, spec,
                                                          count):
    """The quick reject and the index's necessary check, on the summaries the fleet view
    keeps through placements, releases and a request's own earlier instances, never
    reject a host the exact fit accepts; and those summaries are what a fresh one says."""
    fleet = FleetView(topologies)
    held = []
    for index, earlier_spec in enumerate(earlier):
        for assignment in ENGINE.place(earlier_spec, fleet, [f'old{index}']).assignments:
            fleet.apply(assignment)
            held.append(assignment)
    released = data.draw(st.sets(st.integers(0, len(held) - 1))) if held else ()
    for index in released:
        fleet.release(held[index])
    scratch = fleet.scratch()
    for assignment in ENGINE.place(spec, fleet, [f'new{i}' for i in range(count)]).assignments:
        scratch.consume(assignment)
    policy = ENGINE.policy
    needs = RequestNeeds.of(spec, policy)
    necessary = necessary_check(needs)
    for state in scratch.hosts():
        assert state.summary == HostSummary.of(state.topology, state.usage)
        if isinstance(fit(state.topology, state.usage, spec, policy, 'x'), Assignment):
            assert needs.quick_reject(state.summary) is None
            assert necessary(state.summary)
