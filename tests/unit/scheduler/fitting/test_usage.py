"""HostUsage: what assignments hold, consumed and released as values."""

import dataclasses

from scheduler.fitting.usage import HostUsage
from wire.assignment import Assignment, CellAssignment, PciAssignment
from wire.topology import Instance

from .builders import host, request
from .helpers import assigned

PINNED = Assignment(
    host='h', instance='a', vcpus=3, memory_mb=3072,
    cells=(CellAssignment(0, 0, (0, 1), 1024, 2048, {0: 0, 1: 1}, frozenset({8}),
                          frozenset({4, 5})),
           CellAssignment(1, 1, (2,), 2048, 4, {}, frozenset({9}))),
    shared_cpus=frozenset({8, 9}), emulator_pcpus=frozenset({2}),
    pci_devices=(PciAssignment('0000:01:00.1', 0, 'port:0', 'physnet1'),), sev=True)
FLOATING = Assignment(host='h', instance='b', vcpus=2, memory_mb=1024,
                      shared_cpus=frozenset({8, 9}), emulator_pcpus=frozenset({8, 9}))


def test_consume_counts_everything_an_assignment_holds():
    usage = HostUsage().consume(PINNED)
    assert usage.pinned == {0, 1, 2, 4, 5}
    assert usage.shared_vcpus_by_cell == {1: 1}
    assert usage.small_mb_by_cell == {1: 2048}
    assert usage.pages_by_cell == {0: {2048: 512}}
    assert usage.pci_used == {'0000:01:00.1'}
    assert (usage.sev_used, usage.instances) == (1, 1)
    assert (usage.floating_vcpus, usage.floating_memory_mb) == (0, 0)


def test_floating_guests_count_host_wide_and_hold_no_pcpu():
    usage = HostUsage().consume(FLOATING)
    assert (usage.floating_vcpus, usage.floating_memory_mb) == (2, 1024)
    assert usage.pinned == frozenset()
    assert (usage.shared_vcpus, usage.small_memory_mb) == (2, 1024)


def test_release_gives_back_an_equal_value():
    empty = HostUsage()
    both = empty.consume(PINNED).consume(FLOATING)
    assert both.release(PINNED).release(FLOATING) == empty
    assert both.release(FLOATING) == empty.consume(PINNED)


def test_consume_does_not_touch_the_old_value():
    first = HostUsage().consume(PINNED)
    snapshot = (dict(first.pages_by_cell), dict(first.pages_by_cell[0]), first.pinned)
    first.consume(PINNED)
    first.release(PINNED)
    assert (dict(first.pages_by_cell), dict(first.pages_by_cell[0]), first.pinned) == snapshot


def test_emulator_share_on_shared_cpus_holds_nothing():
    shared = Assignment(host='h', instance='c', vcpus=1, memory_mb=512,
                        cells=(CellAssignment(0, 0, (0,), 512, 4, {0: 3}, frozenset({8})),),
                        shared_cpus=frozenset({8}), emulator_pcpus=frozenset({8}))
    assert HostUsage().consume(shared).pinned == {3}


def test_of_host_consumes_the_running_instances():
    topology = host().cells(2, cores=4, shared_cores=1).build()
    first = assigned(topology, request(2, 1024).dedicated().build())
    second = assigned(topology, request(1, 512).build())
    running = dataclasses.replace(topology, instances=(Instance('a', 'a', first),
                                                       Instance('b', 'b', second)))
    usage = HostUsage.of_host(running)
    assert usage == HostUsage().consume(first).consume(second)
    assert usage.instances == 2
    assert usage.free_pcpus(topology.cells[0]) == topology.cells[0].cpus - usage.pinned
