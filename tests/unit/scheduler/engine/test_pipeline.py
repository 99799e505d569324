"""The engine: pipeline order, multi-instance placement, alternates, settings."""

import dataclasses

import pytest
from oslo_config import cfg

from scheduler.engine import EngineSettings, build_engine
from scheduler.engine.fleet import FleetView
from scheduler.engine.opts import list_opts, settings_from_conf
from scheduler.fitting.fit import fit
from scheduler.fitting.necessary import necessary_check
from scheduler.fitting.policy import FitPolicy
from scheduler.fitting.summary import RequestNeeds
from tests.unit.scheduler.helpers import engine, host, replace, request, two_socket
from wire.assignment import Assignment
from wire.request_spec import ServerGroup
from wire.topology import Instance

PINNED4 = request(4, 2048, 'pinned').numa(1).dedicated().build()


def test_build_engine_orders_filters_cheapest_first_and_loads_weighers():
    built = build_engine(EngineSettings())
    costs = [f.cost for f in built.filters]
    assert costs == sorted(costs)
    assert built.filters[0].name in ('enabled', 'secure_boot')
    assert {w.name for w, _ in built.weighers} == set(EngineSettings().weigher_multipliers)
    assert built.policy == FitPolicy()


def test_zero_multiplier_drops_the_weigher():
    built = engine(weigher_multipliers={'ram': 1.0, 'cpu': 0.0})
    assert [w.name for w, _ in built.weighers] == ['ram']


def test_place_returns_an_exact_assignment_and_does_not_touch_the_fleet():
    fleet = FleetView([two_socket('a'), two_socket('b')])
    before = {s.name: s for s in fleet.hosts()}
    placement = engine().place(PINNED4, fleet, ['vm'])
    assignment = placement.assignments[0]
    assert placement.placed and assignment.instance == 'vm'
    assert len(assignment.cells[0].pinning) == 4
    assert all(fleet.state(name) is state for name, state in before.items())
    assert placement.alternates == {'vm': ['b' if assignment.host == 'a' else 'a']}


def test_multi_instance_never_shares_a_pcpu():
    fleet = FleetView([host('only').cells(1, cores=8, threads=1).build()])
    placement = engine().place(PINNED4, fleet, ['a', 'b'])
    pins = [set(a.cells[0].pinning.values()) for a in placement.assignments]
    assert len(pins) == 2 and not pins[0] & pins[1]


@pytest.mark.parametrize('count, min_count, placed', [(3, 3, 0), (3, 2, 2), (2, 2, 2),
                                                     (3, 1, 2)])
def test_all_or_nothing_down_to_min_count(count, min_count, placed):
    fleet = FleetView([host('only').cells(1, cores=8, threads=1).build()])
    spec = replace(PINNED4, count=count, min_count=min_count)
    placement = engine().place(spec, fleet, [f'vm{i}' for i in range(count)])
    assert len(placement.assignments) == placed
    if not placed:
        assert placement.explanation.instance_index == 2
        assert placement.explanation.min_count == 3
        assert placement.alternates == {}


def test_anti_affinity_within_one_request_uses_pending_members():
    fleet = FleetView([two_socket('a'), two_socket('b')])
    group = ServerGroup('g', 'anti-affinity')
    spec = replace(request(1, 512).build(), server_group=group, count=3, min_count=2)
    placement = engine().place(spec, fleet, ['x', 'y', 'z'])
    assert sorted(a.host for a in placement.assignments) == ['a', 'b']
    strict = engine().place(replace(spec, min_count=3), fleet, ['x', 'y', 'z'])
    assert not strict.placed
    assert strict.explanation.reasons == {'SERVER_GROUP_ANTI_AFFINITY': 2}


def test_affinity_within_one_request_follows_the_first_member():
    fleet = FleetView([two_socket(f'h{i}') for i in range(5)])
    spec = replace(request(1, 512).build(), server_group=ServerGroup('g', 'affinity'))
    placement = engine().place(spec, fleet, ['x', 'y', 'z'])
    assert len({a.host for a in placement.assignments}) == 1


def test_reuses_fits_only_for_untouched_hosts():
    fleet = FleetView([two_socket(f'h{i}') for i in range(3)])
    placement = engine(weigher_multipliers={'ram': -1.0}).place(
        replace(PINNED4, count=3, min_count=3), fleet, ['x', 'y', 'z'])
    pins = {}
    for assignment in placement.assignments:
        held = pins.setdefault(assignment.host, set())
        assert not held & assignment.pinned_pcpus
        held |= assignment.pinned_pcpus
    assert [a.instance for a in placement.assignments] == ['x', 'y', 'z']


def test_finds_the_one_host_that_fits_beyond_the_top_candidates():
    """Best estimates fail the exact fit (no SMT for 'require'); the walk goes on."""
    no_smt = [host(f'flat{i}').cells(1, cores=8, threads=1, memory_mb=65536).build()
              for i in range(30)]
    smt = host('smt').cells(1, cores=4, threads=2, memory_mb=8192).build()
    spec = request(2, 1024).numa(1).dedicated().thread('require').build()
    placement = engine(fit_candidates=1).place(spec, FleetView(no_smt + [smt]), ['vm'])
    assert placement.assignments[0].host == 'smt'


def test_static_filters_are_cached_until_a_topology_changes():
    fleet = FleetView([two_socket('a'), two_socket('b', traits=frozenset({'GPU'}))])
    spec = replace(request().build(), required_traits=frozenset({'GPU'}))
    placing = engine()
    assert placing.place(spec, fleet, ['1']).assignments[0].host == 'b'
    fleet.update_host(two_socket('b'))
    fleet.update_host(two_socket('a', traits=frozenset({'GPU'})))
    assert placing.place(spec, fleet, ['2']).assignments[0].host == 'a'


def test_estimate_order_follows_applied_usage():
    fleet = FleetView([two_socket('a'), two_socket('b')])
    placing = engine(weigher_multipliers={'ram': 1.0}, fit_candidates=1, max_alternates=0)
    first = placing.place(request(1, 8192).build(), fleet, ['1']).assignments[0]
    fleet.apply(first)
    second = placing.place(request(1, 8192).build(), fleet, ['2']).assignments[0]
    assert second.host != first.host


def test_explain_dry_run_counts_fits_and_reasons():
    fleet = FleetView([two_socket('a'), two_socket('off', enabled=False)])
    explanation = engine().explain(PINNED4, fleet)
    assert explanation.fits == 1 and explanation.reasons == {'HOST_DISABLED': 1}


def test_settings_from_conf_reads_the_options():
    conf = cfg.ConfigOpts()
    settings = settings_from_conf(conf)
    assert settings == EngineSettings()
    conf.set_override('ram_weight_multiplier', -1.0, group='filter_scheduler')
    conf.set_override('enabled_filters', ['enabled', 'numa'], group='filter_scheduler')
    conf.set_override('cpu_allocation_ratio', 16.0)
    settings = settings_from_conf(conf)
    assert settings.weigher_multipliers['ram'] == -1.0
    assert settings.enabled_filters == ('enabled', 'numa')
    assert settings.fit_policy() == FitPolicy(cpu_allocation_ratio=16.0)


def test_list_opts_names_the_groups():
    groups = dict(list_opts())
    assert {o.name for o in groups['DEFAULT']} == {'cpu_allocation_ratio',
                                                   'ram_allocation_ratio'}
    names = {o.name for o in groups['filter_scheduler']}
    assert {'enabled_filters', 'host_subset_size', 'max_alternates', 'fit_candidates',
            'ram_weight_multiplier', 'numa_fragmentation_weight_multiplier'} <= names


def test_host_subset_size_picks_among_the_best():
    fleet = FleetView([two_socket(f'h{i}') for i in range(6)])
    chosen = {engine(host_subset_size=3, seed=seed, shuffle_best_same_weighed_hosts=False)
              .place(PINNED4, fleet, ['vm']).assignments[0].host for seed in range(20)}
    assert chosen == {'h0', 'h1', 'h2'}


def test_without_shuffle_the_first_by_name_wins_a_tie():
    fleet = FleetView([two_socket(f'h{i}') for i in range(30)])
    chosen = {engine(shuffle_best_same_weighed_hosts=False, seed=seed)
              .place(PINNED4, fleet, ['vm']).assignments[0].host for seed in range(10)}
    assert chosen == {'h0'}


def test_shuffle_spreads_schedulers_over_equal_hosts_beyond_the_fitted_few():
    # 30 equal hosts, 8 fitted per decision: engines with their own salts walk the
    # ties in their own order, so they pick among all 30, not the first 8 by name.
    fleet = FleetView([two_socket(f'h{i}') for i in range(30)])
    chosen = [engine(seed=seed).place(PINNED4, fleet, ['vm']).assignments[0].host
              for seed in range(40)]
    assert len(set(chosen)) > 15
    assert set(chosen) - {f'h{i}' for i in range(8)}


def test_shuffle_never_trades_weight_for_randomness():
    # h1..h11 hold one guest each, h0 none: spreading by free RAM, h0 is the one
    # best host and every engine takes it whatever its salt; among the eleven (h0
    # full) they pick at random
    fleet = FleetView([two_socket(f'h{i}') for i in range(12)])
    for i in range(1, 12):
        fleet.apply(engine(seed=99).evaluate(PINNED4, fleet, f'h{i}', f'vm{i}'))
    ram = {'ram': 1.0}
    assert {engine(seed=seed, weigher_multipliers=ram).place(PINNED4, fleet, ['vm'])
            .assignments[0].host for seed in range(20)} == {'h0'}
    fleet.apply(engine(seed=99).evaluate(
        request(16, 2048, 'whole').numa(2).dedicated().build(), fleet, 'h0', 'big'))
    chosen = {engine(seed=seed, weigher_multipliers=ram).place(PINNED4, fleet, ['vm'])
              .assignments[0].host for seed in range(30)}
    assert 'h0' not in chosen and len(chosen) > 3


@pytest.mark.parametrize('spec', [
    request(2, 1024).build(),
    request(4, 4096).numa(1).dedicated().build(),
    request(4, 4096).numa(2).dedicated().pages(2048).build(),
    request(2, 2048).numa(1).pages('large').build(),
    request(2, 2048).numa(1).pages('any').build(),
    request(2, 1024).numa(1).dedicated().port('physnet1').build(),
    request(2, 1024).alias('gpu', 1, vendor='10DE', product='1DB4').build(),
    request(2, 1024).sev().build(),
])
def test_necessary_check_accepts_every_host_the_fit_accepts(spec):
    hosts = [two_socket('a', vfs=2, pages={2048: 1024}),
             host('g').cells(1, cores=4, shared_cores=2).device('0000:05:00.0').sev(1).build()]
    fitted = 0
    for topology in hosts:
        state = FleetView([topology]).state(topology.name)
        verdict = fit(topology, state.usage, spec, FitPolicy(), 'x')
        if isinstance(verdict, Assignment):
            fitted += 1
            assert necessary_check(RequestNeeds.of(spec, FitPolicy()))(state.summary)
    assert fitted


def test_settings_are_a_value():
    with pytest.raises(dataclasses.FrozenInstanceError):
        EngineSettings().fit_candidates = 3


def test_exact_fits_are_reused_until_the_host_changes():
    """2 hosts x 1 instance each, count 3: every host is fitted once per state it has."""
    fleet = FleetView([host(f'h{i}').cells(1, cores=2, threads=2).build() for i in range(2)])
    placing = engine()
    calls = []
    exact = placing.fit
    placing.fit = lambda *args: calls.append(args[0].name) or exact(*args)
    spec = request(2, 1024).numa(1).dedicated().thread('isolate').build()
    placement = placing.place(replace(spec, count=3, min_count=3), fleet, ['a', 'b', 'c'])
    assert not placement.placed
    # once each while empty; once full, the summary's quick reject answers before any fit.
    assert sorted(calls) == ['h0', 'h1']
    assert placement.explanation.reasons == {'NUMA_CELL_NO_FREE_PCPUS': 2}
    assert placement.explanation.instance_index == 2


def test_the_explanation_reuses_the_fits_of_the_request():
    """The quick reject passes (it counts VFs without NUMA affinity), the fit fails."""
    topology = host('h0').cells(2, cores=2).pf('0000:01:00.0', numa_node=0, vfs=2).build()
    fleet = FleetView([topology])
    blocker = request(2, 1024).numa(1).dedicated().port().build()
    fleet.apply(engine().place(blocker, fleet, ['old']).assignments[0])
    placing = engine()
    calls = []
    exact = placing.fit
    placing.fit = lambda *args: calls.append(args[0].name) or exact(*args)
    placement = placing.place(blocker, fleet, ['new'])
    assert calls == ['h0']
    assert placement.explanation.reasons == {'PCI_NUMA_AFFINITY': 1}


def test_decisions_follow_usage_only_reports():
    fleet = FleetView([two_socket('a'), two_socket('b')])
    placing = engine(weigher_multipliers={'ram': 1.0}, fit_candidates=1, max_alternates=0)
    first = placing.place(request(1, 1024).build(), fleet, ['1']).assignments[0]
    big = placing.place(request(2, 20000).build(), FleetView([two_socket(first.host)]),
                        ['big']).assignments[0]
    fleet.update_host(replace(fleet.state(first.host).topology,
                              instances=(Instance('big', 'big', big),)))
    assert fleet.static_generation == 0
    second = placing.place(request(1, 1024).build(), fleet, ['2']).assignments[0]
    assert second.host != first.host


def test_an_empty_fleet_explains_itself():
    placement = engine().place(PINNED4, FleetView([]), ['vm'])
    assert not placement.placed
    assert placement.explanation.to_dict()['hosts'] == 0
    assert placement.explanation.summary_line() == 'no valid host among 0: no hosts'
