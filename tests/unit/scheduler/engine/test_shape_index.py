"""The shape index groups alike hosts and keeps the groups as hosts change."""

import dataclasses

from scheduler.engine.fleet import FleetView
from tests.unit.scheduler.helpers import engine, host, request


def _fleet(count=6):
    return FleetView([host(f'h{i}').cells(1, cores=4, shared_cores=1).build()
                      for i in range(count)])


def _groups(fleet):
    return sorted(sorted(names) for names in fleet.shapes().groups().values())


def test_alike_hosts_share_a_shape_until_their_usage_differs():
    fleet = _fleet()
    assert _groups(fleet) == [['h0', 'h1', 'h2', 'h3', 'h4', 'h5']]
    spec = request(1, 512).build()
    placed = dataclasses.replace(engine().place(spec, fleet, ['a']).assignments[0], host='h3')
    fleet.apply(placed)
    assert _groups(fleet) == [['h0', 'h1', 'h2', 'h4', 'h5'], ['h3']]
    fleet.release(placed)
    assert _groups(fleet) == [['h0', 'h1', 'h2', 'h3', 'h4', 'h5']]


def test_topology_changes_and_removals_move_hosts():
    fleet = _fleet(3)
    fleet.update_host(dataclasses.replace(fleet.state('h1').topology, enabled=False))
    assert _groups(fleet) == [['h0', 'h2'], ['h1']]
    fleet.remove_host('h0')
    assert _groups(fleet) == [['h1'], ['h2']]


def test_first_names_in_order_skipping_some():
    fleet = _fleet(30)
    shapes = fleet.shapes()
    shape, = shapes.groups()
    assert shapes.first_names(shape, 3) == ['h0', 'h1', 'h10']
    assert shapes.first_names(shape, 2, skip={'h0', 'h10'}) == ['h1', 'h11']


def test_a_shape_emptied_by_changes_is_kept_compact_and_exact():
    fleet = _fleet(40)
    spec = request(1, 512).build()
    sample = engine().place(spec, fleet, ['a']).assignments[0]
    for i in range(36):
        fleet.apply(dataclasses.replace(sample, host=f'h{i}', instance=f'vm{i}'))
    groups = fleet.shapes().groups()
    assert sorted(len(names) for names in groups.values()) == [4, 36]
    assert fleet.shapes().first_names(min(groups, key=lambda s: len(groups[s])), 5) == [
        'h36', 'h37', 'h38', 'h39']
