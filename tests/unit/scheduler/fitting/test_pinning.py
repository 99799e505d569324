"""Thread policies on one cell: which pCPUs, which siblings held."""

import pytest

from scheduler.fitting import pinning
from scheduler.fitting.facts import cell_cores
from wire.topology import Cell

from .builders import host

# 4 cores x 2 threads: (0,8) (1,9) (2,10) (3,11) on cell 0 of a 2-cell host.
SMT_CELL = host().cells(2, cores=4, threads=2).build().cells[0]
FLAT_CELL = host().cells(1, cores=4, threads=1).build().cells[0]
ALL = SMT_CELL.cpus


@pytest.mark.parametrize('policy, free, count, pcpus, reserved', [
    (None, ALL, 4, (0, 8, 1, 9), ()),
    ('prefer', ALL, 3, (0, 8, 1), ()),
    ('prefer', ALL - {8}, 1, (0,), ()),                 # best fit: the broken core
    ('prefer', ALL - {8, 9}, 2, (2, 10), ()),           # a whole core before two halves
    ('prefer', ALL - {8, 9, 10, 11}, 3, (0, 1, 2), ()),
    ('require', ALL, 3, (0, 8, 1), ()),
    ('require', ALL - {8}, 2, (1, 9), ()),              # only wholly free cores
    ('isolate', ALL, 2, (0, 1), (8, 9)),
    ('isolate', ALL - {8}, 2, (1, 2), (9, 10)),
])
def test_pick_on_smt_cell(policy, free, count, pcpus, reserved):
    cores = cell_cores(SMT_CELL)
    assert count <= pinning.capacity(cores, frozenset(free), policy)
    assert pinning.pick(cores, frozenset(free), count, policy) == (pcpus, frozenset(reserved))


@pytest.mark.parametrize('policy, free, expected', [
    (None, ALL, 8),
    ('prefer', ALL - {0}, 7),
    ('require', ALL - {0}, 6),        # cores (1,9) (2,10) (3,11)
    ('isolate', ALL - {0, 9}, 2),     # cores 2 and 3 wholly free
    ('isolate', ALL, 4),
])
def test_capacity_on_smt_cell(policy, free, expected):
    assert pinning.capacity(cell_cores(SMT_CELL), frozenset(free), policy) == expected


@pytest.mark.parametrize('policy, expected_capacity', [
    ('require', 0), ('isolate', 4), ('prefer', 4), (None, 4)])
def test_flat_cell(policy, expected_capacity):
    cores = cell_cores(FLAT_CELL)
    assert not cores.smt
    assert pinning.capacity(cores, FLAT_CELL.cpus, policy) == expected_capacity
    if expected_capacity:
        assert pinning.pick(cores, FLAT_CELL.cpus, 2, policy) == ((0, 1), frozenset())


def test_isolate_uses_single_thread_cores_first():
    cell = Cell(id=0, cpus=frozenset({0, 1, 2, 5}),
                siblings=(frozenset({0, 4}), frozenset({1, 5}), frozenset({2, 6})),
                memory_mb=1024)
    cores = cell_cores(cell)     # 4 and 6 are not dedicated: cores (0,) (1,5) (2,)
    assert cores.cores == ((0,), (1, 5), (2,))
    assert cores.smt
    assert pinning.pick(cores, cell.cpus, 3, 'isolate') == ((0, 2, 1), frozenset({5}))


def test_cpus_outside_sibling_sets_are_single_cores():
    cell = Cell(id=0, cpus=frozenset({0, 1, 2}), siblings=(frozenset({0, 1}),), memory_mb=1)
    assert cell_cores(cell).cores == ((0, 1), (2,))


@pytest.mark.parametrize('policy, free, emulator, reserved', [
    ('isolate', ALL - {0, 8}, {1}, {9}),
    ('prefer', ALL - {0}, {8}, set()),
    ('require', ALL - {0}, {8}, set()),
])
def test_emulator_pick(policy, free, emulator, reserved):
    cores = cell_cores(SMT_CELL)
    assert pinning.emulator_capacity(cores, frozenset(free), policy) == 1
    assert pinning.pick_emulator(cores, frozenset(free), policy) == (
        frozenset(emulator), frozenset(reserved))


def test_emulator_isolate_needs_a_whole_core():
    cores = cell_cores(SMT_CELL)
    assert pinning.emulator_capacity(cores, frozenset({8, 9}), 'isolate') == 0
    assert pinning.emulator_capacity(cores, frozenset({8, 9}), 'prefer') == 1
