"""Weighers: raw values, Nova's normalisation, and their effect through the engine."""

from importlib import metadata

import pytest

from scheduler.engine import WEIGHER_GROUP, load_plugin
from scheduler.engine.fleet import FleetView
from scheduler.fitting.policy import FitPolicy
from scheduler.weighers.base import BaseWeigher, normalise
from scheduler.weighers.hugepage_preserving import HugepagePreservingWeigher
from scheduler.weighers.numa_fragmentation import NumaFragmentationWeigher, intact_capacity
from scheduler.weighers.pci_preserving import PciPreservingWeigher
from scheduler.weighers.server_group_soft import ServerGroupSoftWeigher
from tests.unit.scheduler.helpers import engine, host, replace, request, state_of, two_socket
from wire.request_spec import ServerGroup

NO_OTHER_WEIGHERS = {'ram': 0, 'cpu': 0, 'numa_fragmentation': 0, 'pci_preserving': 0,
                     'hugepage_preserving': 0, 'server_group_soft': 0}


def only(**multipliers):
    return dict(NO_OTHER_WEIGHERS, **multipliers)


@pytest.mark.parametrize('values, expected', [
    ([], []),
    ([5.0], [0.0]),
    ([3.0, 3.0, 3.0], [0.0, 0.0, 0.0]),
    ([0.0, 5.0, 10.0], [0.0, 0.5, 1.0]),
    ([-4.0, -2.0, 0.0], [0.0, 0.5, 1.0]),
])
def test_normalise_is_novas_contract(values, expected):
    assert normalise(values) == expected


@pytest.mark.parametrize('name', sorted(e.name for e in
                                        metadata.entry_points(group=WEIGHER_GROUP)))
def test_weigher_entry_points_load(name):
    plugin = load_plugin(WEIGHER_GROUP, name, FitPolicy())
    assert isinstance(plugin, BaseWeigher) and plugin.name == name


def _busy_and_idle():
    """'busy' already runs a 16 GiB floating guest; 'idle' runs nothing."""
    fleet = FleetView([two_socket('busy'), two_socket('idle')])
    spec = request(2, 16384).build()
    fleet.apply(engine(weigher_multipliers=only(ram=-1.0)).place(
        spec, FleetView([two_socket('busy')]), ['old']).assignments[0])
    return fleet


@pytest.mark.parametrize('multiplier, expected', [(1.0, 'idle'), (-1.0, 'busy')])
def test_ram_weigher_spreads_or_packs(multiplier, expected):
    fleet = _busy_and_idle()
    placement = engine(weigher_multipliers=only(ram=multiplier)).place(
        request(1, 1024).build(), fleet, ['new'])
    assert placement.assignments[0].host == expected


@pytest.mark.parametrize('multiplier, expected', [(2.0, 'idle'), (-2.0, 'busy')])
def test_cpu_weigher_spreads_or_packs(multiplier, expected):
    fleet = _busy_and_idle()
    placement = engine(weigher_multipliers=only(cpu=multiplier)).place(
        request(1, 1024).build(), fleet, ['new'])
    assert placement.assignments[0].host == expected


def test_pci_preserving_keeps_sriov_hosts_for_sriov_guests():
    fleet = FleetView([two_socket('sriov', vfs=4), two_socket('plain')])
    placing = engine(weigher_multipliers=only(pci_preserving=1.0))
    assert placing.place(request(1, 1024).build(), fleet, ['a']).assignments[0].host == 'plain'
    guest = request(1, 1024).port().build()
    assert not PciPreservingWeigher().applies(guest)
    assert placing.place(guest, fleet, ['b']).assignments[0].host == 'sriov'
    assert PciPreservingWeigher().weigh(fleet.state('sriov'), guest, None) == -5.0


def test_hugepage_preserving_keeps_pools_for_hugepage_guests():
    fleet = FleetView([two_socket('pools', pages={2048: 1024}), two_socket('plain')])
    placing = engine(weigher_multipliers=only(hugepage_preserving=1.0))
    small = request(1, 1024).build()
    assert placing.place(small, fleet, ['a']).assignments[0].host == 'plain'
    assert HugepagePreservingWeigher().weigh(fleet.state('pools'), small, None) == -4096.0
    assert not HugepagePreservingWeigher().applies(request(1, 1024).numa(1).pages(2048).build())


def test_intact_capacity_counts_whole_cores_and_whole_cells():
    topology = host('h').cells(2, cores=2, threads=2).build()
    # 2 cells x 2 cores, each cell wholly free: 4 cores + 2 x 2 for the whole cells.
    assert intact_capacity(topology, frozenset()) == 8
    one_thread = next(iter(topology.cells[0].cpus))
    assert intact_capacity(topology, frozenset({one_thread})) == 3 + 2


def test_numa_fragmentation_prefers_the_fit_that_breaks_nothing_intact():
    base = host('broken').cells(1, cores=2, threads=2).build()
    broken_pin = engine().place(request(1, 512).numa(1).dedicated().build(),
                                FleetView([base]), ['old']).assignments[0]
    fleet = FleetView([base, replace(host('whole').cells(1, cores=2, threads=2).build())])
    fleet.apply(broken_pin)
    spec = request(1, 512).numa(1).dedicated().build()
    placing = engine(weigher_multipliers=only(numa_fragmentation=1.0))
    assert placing.place(spec, fleet, ['new']).assignments[0].host == 'broken'
    weigher = NumaFragmentationWeigher()
    state = fleet.state('whole')
    fit = placing.place(spec, FleetView([state.topology]), ['x']).assignments[0]
    assert weigher.weigh(state, spec, fit) == -3.0    # one whole core and the whole cell
    assert not weigher.applies(request().build())


@pytest.mark.parametrize('policy, expected', [('soft-affinity', 'with-member'),
                                              ('soft-anti-affinity', 'empty')])
def test_server_group_soft(policy, expected):
    fleet = FleetView([two_socket('empty'), two_socket('with-member')])
    member = engine().place(request(1, 512).build(), FleetView([two_socket('with-member')]),
                            ['m']).assignments[0]
    fleet.apply(member, 'g')
    spec = replace(request(1, 512).build(), server_group=ServerGroup('g', policy))
    # RAM alone would pick 'empty' (more free memory); the group weigher must win.
    placing = engine(weigher_multipliers=only(server_group_soft=10.0, ram=1.0))
    assert placing.place(spec, fleet, ['new']).assignments[0].host == expected
    weight = ServerGroupSoftWeigher().weigh(state_of(two_socket('x')), spec, None)
    assert weight == 0.0


def test_soft_affinity_member_host_is_fitted_even_when_ranked_last():
    hosts = [two_socket(f'h{i}') for i in range(20)]
    fleet = FleetView(hosts)
    member = engine().place(request(1, 4096).build(), FleetView([hosts[7]]),
                            ['m']).assignments[0]
    fleet.apply(member, 'g')       # h7 now has the least free RAM: last by estimate
    spec = replace(request(1, 512).build(), server_group=ServerGroup('g', 'soft-affinity'))
    placing = engine(fit_candidates=2, weigher_multipliers=only(server_group_soft=10.0,
                                                                 ram=1.0))
    assert placing.place(spec, fleet, ['new']).assignments[0].host == 'h7'


def test_fragmentation_equals_the_difference_of_intact_capacity():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from scheduler.weighers.numa_fragmentation import fragmentation

    topology = host('h').cells(2, cores=3, threads=2, shared_cores=1).build()
    cpus = sorted(topology.cells[0].cpus | topology.cells[1].cpus)

    @settings(max_examples=80, deadline=None)
    @given(st.sets(st.sampled_from(cpus)), st.sets(st.sampled_from(cpus)))
    def check(before, taken):
        before, after = frozenset(before), frozenset(before | taken)
        assert fragmentation(topology, before, frozenset(taken)) == (
            intact_capacity(topology, after) - intact_capacity(topology, before))
    check()


def test_soft_anti_affinity_looks_past_member_hosts_ranked_first():
    members = [two_socket(f'm{i}') for i in range(6)]
    loaded = [two_socket(f'x{i}') for i in range(6)]
    fleet = FleetView(members + loaded)
    for topology in members:
        fleet.apply(engine().place(request(1, 512).build(), FleetView([topology]),
                                   [f'{topology.name}-g']).assignments[0], 'g')
    for topology in loaded:      # less free RAM than any member host: ranked after them
        fleet.apply(engine().place(request(1, 8192).build(), FleetView([topology]),
                                   [f'{topology.name}-big']).assignments[0])
    spec = replace(request(1, 512).build(), server_group=ServerGroup('g', 'soft-anti-affinity'))
    placing = engine(fit_candidates=2, weigher_multipliers=only(server_group_soft=10.0,
                                                                 ram=1.0))
    assert placing.place(spec, fleet, ['new']).assignments[0].host.startswith('x')
