"""FleetView: warm per-host state, changed one host at a time."""

from scheduler.engine.fleet import FleetView
from scheduler.fitting.summary import HostSummary
from scheduler.fitting.usage import HostUsage
from tests.unit.scheduler.helpers import engine, host, request, two_socket
from wire.topology import Instance

PINNED4 = request(4, 2048, 'pinned').numa(1).dedicated().build()


def _placed(fleet, spec=PINNED4, instance='vm-1'):
    return engine().place(spec, fleet, [instance]).assignments[0]


def test_states_carry_topology_usage_and_summary():
    fleet = FleetView([two_socket('a'), two_socket('b')])
    state = fleet.state('a')
    assert [s.name for s in fleet.hosts()] == ['a', 'b']
    assert state.usage == HostUsage()
    assert state.summary.name == 'a'
    assert state.summary.free_pcpus == 16 and state.summary.free_pcpus_max_cell == 8


def test_apply_recomputes_only_that_host_and_release_restores_it():
    fleet = FleetView([two_socket('a'), two_socket('b')])
    before_a, before_b = fleet.state('a'), fleet.state('b')
    assignment = _placed(fleet)
    fleet.apply(assignment)
    changed = fleet.state(assignment.host)
    untouched = fleet.state('b' if assignment.host == 'a' else 'a')
    assert untouched is (before_b if assignment.host == 'a' else before_a)
    assert changed.summary.free_pcpus == 12
    assert changed.summary.cells[0].free_pcpus + changed.summary.cells[1].free_pcpus == 12
    fleet.release(assignment)
    before = before_a if assignment.host == 'a' else before_b
    assert fleet.state(assignment.host).summary == before.summary
    assert fleet.state(assignment.host).usage.pinned == frozenset()


def test_hosts_list_is_patched_in_place_and_logged():
    fleet = FleetView([two_socket('a'), two_socket('b')])
    fleet.hosts()
    assignment = _placed(fleet)
    fleet.apply(assignment)
    assert fleet.hosts()[fleet.position(assignment.host)] is fleet.state(assignment.host)
    assert fleet.change_log == [assignment.host]
    assert fleet.static_generation == 0


def test_update_and_remove_host_bump_the_static_generation():
    fleet = FleetView([two_socket('a')])
    fleet.update_host(two_socket('a', traits=frozenset({'X'})))
    assert fleet.state('a').topology.traits == {'X'} and fleet.static_generation == 1
    fleet.update_host(two_socket('c'))
    assert [s.name for s in fleet.hosts()] == ['a', 'c']
    fleet.remove_host('a')
    assert 'a' not in fleet and len(fleet) == 1 and fleet.static_generation == 3


def test_a_report_changing_only_usage_keeps_the_static_generation():
    base = two_socket('a')
    fleet = FleetView([base, two_socket('b')])
    fleet.hosts()
    assignment = _placed(FleetView([base]))
    fleet.update_host(two_socket('a', instances=(Instance('vm', 'vm', assignment, 'g'),)))
    assert fleet.static_generation == 0 and fleet.change_log == ['a']
    assert fleet.state('a').summary.free_pcpus == 12 and fleet.group_hosts('g') == {'a'}
    fleet.update_host(two_socket('a', enabled=False))
    assert fleet.static_generation == 1 and fleet.group_hosts('g') == set()


def test_running_instances_are_usage_and_group_members():
    base = two_socket('a')
    assignment = _placed(FleetView([base]))
    topology = two_socket('a', instances=(Instance('vm-1', 'vm-1', assignment, 'web'),))
    fleet = FleetView([topology])
    assert fleet.state('a').usage.pinned == assignment.pinned_pcpus
    assert fleet.state('a').members == {'web': 1}
    assert fleet.group_hosts('web') == {'a'}
    fleet.release(assignment)
    assert fleet.state('a').members == {'web': 0}
    assert fleet.group_hosts('web') == set()


def test_apply_with_server_group_tracks_members():
    fleet = FleetView([two_socket('a')])
    assignment = _placed(fleet)
    fleet.apply(assignment, 'db')
    assert fleet.group_hosts('db') == {'a'} and fleet.state('a').members == {'db': 1}
    fleet.release(assignment)
    assert fleet.group_hosts('db') == set()


def test_scratch_overlays_pending_placements_without_touching_the_view():
    fleet = FleetView([two_socket('a')])
    original = fleet.state('a')
    scratch = fleet.scratch()
    scratch.consume(_placed(fleet), 'web')
    assert scratch.state('a').summary.free_pcpus == 12
    assert scratch.group_hosts('web') == {'a'}
    assert scratch.hosts()[0] is scratch.state('a')
    assert fleet.state('a') is original and fleet.group_hosts('web') == frozenset()
    copy = scratch.copy()
    copy.consume(engine().place(PINNED4, scratch, ['vm-2']).assignments[0])
    assert scratch.state('a').summary.free_pcpus == 12
    assert copy.state('a').summary.free_pcpus == 8


def test_summary_totals_count_free_vfs_with_pf_vf_exclusivity():
    topology = host('a').cells(1).pf('0000:01:00.0', vfs=3).pf('0000:02:00.0', vfs=2).build()
    usage = HostUsage(pci_used=frozenset({'0000:01:00.0.v0', '0000:02:00.0'}))
    summary = HostSummary.of(topology, usage)
    # PF 01 is held through its VF, PF 02 is used whole so its VFs are gone.
    assert summary.free_vf_total == 2
    assert summary.free_vfs == {'physnet1': 2}
    assert summary.free_pci == 2


def test_summary_totals_memory_pages_and_sev():
    topology = host('a').cells(2, memory_mb=8192).pages({2048: 1024}).sev(2, 3).build()
    summary = HostSummary.of(topology, HostUsage(sev_used=1, sev_es_used=1,
                                                 pages_by_cell={0: {2048: 24}}))
    assert summary.free_pages == {2048: 2024}
    assert summary.small_total_mb == 2 * (8192 - 2048)
    assert summary.free_hugepage_mb == 2024 * 2
    assert summary.free_ram_mb == 2 * (8192 - 2048) + 2024 * 2
    assert (summary.sev_free, summary.sev_es_free) == (1, 2)


def test_alike_hosts_share_usage_and_all_of_the_summary_but_its_name():
    fleet = FleetView([two_socket('a'), two_socket('b')])
    a, b = fleet.state('a'), fleet.state('b')
    assert a.usage is b.usage
    assert a.summary.cells is b.summary.cells and (a.summary.name, b.summary.name) == ('a', 'b')
    fleet.apply(_placed(fleet))
    placed, other = sorted((fleet.state('a'), fleet.state('b')),
                           key=lambda s: s.usage.instances, reverse=True)
    assert placed.summary is not other.summary and placed.summary.free_pcpus == 12
    assert placed.summary == placed.summary.__class__.of(placed.topology, placed.usage)
