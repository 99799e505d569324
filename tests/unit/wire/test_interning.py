"""Alike hosts share their parsed parts, and a shared part is exactly the one it replaces."""

import json

from tests import busfleet
from wire import interning
from wire.assignment import Assignment
from wire.topology import HostTopology


def parsed(name, **shape):
    return HostTopology.from_dict(busfleet.host(name, **shape))


def test_alike_hosts_share_cells_sets_and_devices_but_not_their_names():
    a, b = parsed('a'), parsed('b')
    assert a.cells is b.cells and a.pci_devices is b.pci_devices
    assert a.cells[0].cpus is b.cells[0].cpus and a.name != b.name
    assert a.to_dict() == dict(b.to_dict(), name='a')


def test_hosts_that_differ_share_only_what_is_equal():
    small, big = parsed('a'), parsed('b', memory_mb=32768)
    assert small.cells is not big.cells and small.cells[0] != big.cells[0]
    assert small.cells[0].cpus is big.cells[0].cpus       # the same CPU ids
    assert small.pci_devices is big.pci_devices


def test_equal_sets_in_another_order_are_not_exchanged(monkeypatch):
    monkeypatch.setattr(interning, '_table', {})
    # 1 and 9 collide in a small set's table: the first one put in comes first
    first, second = frozenset([1, 9]), frozenset([9, 1])
    assert first == second and list(first) != list(second)
    assert interning.shared(first) is first and interning.shared(second) is second
    assert interning.shared(frozenset([1, 9])) is first


def test_two_cells_differing_only_in_page_order_stay_apart():
    first = dict(busfleet.host('a'), name='p1')
    second = json.loads(json.dumps(first))
    first['cells'][0]['pages'] = {'2048': 8, '1048576': 1}
    second['cells'][0]['pages'] = {'1048576': 1, '2048': 8}
    one, two = HostTopology.from_dict(first), HostTopology.from_dict(second)
    assert one.cells[0] == two.cells[0] and one.cells[0] is not two.cells[0]
    assert list(one.cells[0].pages) == [2048, 1048576]
    assert list(two.cells[0].pages) == [1048576, 2048]


def test_guests_of_one_shape_share_their_assigned_cells():
    raw = {'host': 'a', 'instance': 'vm-1', 'vcpus': 2, 'memory_mb': 1024,
           'cells': [{'guest_cell': 0, 'host_cell': 1, 'vcpus': [0, 1], 'memory_mb': 1024,
                      'page_size_kb': 2048, 'pinning': {'0': 10, '1': 11}}]}
    one = Assignment.from_dict(raw)
    two = Assignment.from_dict(dict(raw, host='b', instance='vm-2'))
    assert one.cells is two.cells and one.instance != two.instance
    assert one.to_dict() == dict(two.to_dict(), host='a', instance='vm-1')


def test_a_full_table_is_emptied_and_sharing_goes_on(monkeypatch):
    monkeypatch.setattr(interning, '_table', {})
    monkeypatch.setattr(interning, 'TABLE_LIMIT', 3)
    values = [interning.shared((index,)) for index in range(5)]
    assert interning.size() <= 3
    again = (4,)
    assert interning.shared(again) is values[4]
