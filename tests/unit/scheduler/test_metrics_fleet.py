"""FleetCollector on pure data: capacity gauges from a FleetView, per host and in total,
and the per-host cap that keeps a big fleet's scrape small."""

import prometheus_client
import pytest

from scheduler.metrics import GaugeSettings
from scheduler.metrics_fleet import FleetCollector, host_state
from tests.unit.scheduler.helpers import engine, fleet_of, host, replace, request

P = 'kvmfleet_scheduler_'


def topology(name, aggregates=()):
    """2 cells x 4 dedicated pCPUs, 8 x 2 MiB pages per cell, 3 VFs on physnet1 (cell 0)."""
    built = host(name).cells(2, cores=4).pages({2048: 8}).pf(
        f"0000:{len(name):02x}:00.0", vfs=3).build()
    return replace(built, aggregates={a: {} for a in aggregates})


def collect(fleet, up=None, enabled=None, settings=None):
    names = [h.name for h in fleet.hosts()]
    up = {n: True for n in names} if up is None else up
    enabled = {n: True for n in names} if enabled is None else enabled
    registry = prometheus_client.CollectorRegistry()
    registry.register(FleetCollector(lambda: (fleet.hosts(), up, enabled),
                                     settings or GaugeSettings()))
    return registry


def value(registry, name, **labels):
    return registry.get_sample_value(P + name, labels)


def test_an_idle_fleet_is_all_free_per_cell_per_host_and_in_total():
    registry = collect(fleet_of(topology('a', ['gold']), topology('b')))
    assert value(registry, 'cell_pcpus', host='a', cell='1') == 4
    assert value(registry, 'cell_free_pcpus', host='a', cell='1') == 4
    assert value(registry, 'cell_pages', host='b', cell='0', page_size_kb='2048') == 8
    assert value(registry, 'cell_free_pages', host='b', cell='0', page_size_kb='2048') == 8
    assert value(registry, 'host_free_vfs', host='a', physnet='physnet1') == 3
    assert value(registry, 'fleet_pcpus') == 16 and value(registry, 'fleet_free_pcpus') == 16
    assert value(registry, 'fleet_free_pages', page_size_kb='2048') == 32
    assert value(registry, 'fleet_free_vfs', physnet='physnet1') == 6
    assert value(registry, 'aggregate_free_pcpus', aggregate='gold') == 8   # host a only
    assert value(registry, 'aggregate_free_vfs', aggregate='gold', physnet='physnet1') == 3
    assert value(registry, 'per_host_gauges') == 1


def test_claimed_pcpus_pages_and_vfs_are_not_free():
    fleet = fleet_of(topology('a'))
    spec = request(vcpus=2, memory_mb=16).dedicated().pages(2048).numa(1).port().build()
    [assignment] = engine().place(spec, fleet, ['u1']).assignments
    fleet.apply(assignment)
    cell = str(assignment.cells[0].host_cell)
    registry = collect(fleet)
    assert value(registry, 'cell_free_pcpus', host='a', cell=cell) == 2
    assert value(registry, 'cell_pcpus', host='a', cell=cell) == 4
    assert value(registry, 'cell_free_pages', host='a', cell=cell, page_size_kb='2048') == 0
    assert value(registry, 'host_free_vfs', host='a', physnet='physnet1') == 2
    assert value(registry, 'fleet_free_pcpus') == 6


@pytest.mark.parametrize('up,enabled,expected', [
    (True, True, 'up'), (False, True, 'down'), (True, False, 'disabled'),
    (False, False, 'disabled'),
])
def test_host_state(up, enabled, expected):
    assert host_state(up, enabled) == expected


def test_hosts_are_counted_by_state():
    fleet = fleet_of(topology('a'), topology('b'), topology('c'))
    registry = collect(fleet, up={'a': True, 'b': False, 'c': True},
                       enabled={'a': True, 'b': True, 'c': False})
    assert [value(registry, 'hosts', state=s) for s in ('up', 'down', 'disabled')] == [1, 1, 1]


@pytest.mark.parametrize('settings', [GaugeSettings(max_hosts=1), GaugeSettings(per_host=False)])
def test_beyond_the_cap_or_when_off_only_totals_are_exported(settings):
    registry = collect(fleet_of(topology('a', ['gold']), topology('b')), settings=settings)
    names = {s.name for family in registry.collect() for s in family.samples}
    assert not any(name.startswith((P + 'cell_', P + 'host_free')) for name in names)
    assert value(registry, 'per_host_gauges') == 0
    assert value(registry, 'fleet_free_pcpus') == 16
    assert value(registry, 'aggregate_pcpus', aggregate='gold') == 8


def test_an_empty_fleet_exports_zero_totals():
    registry = collect(fleet_of())
    assert value(registry, 'fleet_pcpus') == 0
    assert value(registry, 'hosts', state='up') == 0
