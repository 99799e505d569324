"""CPU rules of the fit: floating guests, NUMA cells, pinning, thread and emulator policies."""

import dataclasses

import pytest

from scheduler.fitting import reasons
from scheduler.fitting.fit import fit
from scheduler.fitting.policy import FitPolicy
from scheduler.fitting.usage import HostUsage
from wire.assignment import Assignment

from .builders import host, request
from .helpers import POLICY, assigned, fill, place, rejected

SMT = host().cells(2, cores=4, threads=2, shared_cores=1).build()      # 2 x (8 + 2 shared)
FLAT = host().cells(2, cores=4, threads=1, shared_cores=1).build()
SHARED = host().cells(2, cores=4, threads=2, shared_cores=2).build()   # 4 shared per cell


# --- Nova's documented examples -------------------------------------------------------------

def test_nova_example_8_vcpus_2048mb_two_nodes_split_evenly():
    result = assigned(SHARED, request(8, 2048).numa(2).build())
    assert [(c.guest_cell, c.vcpus, c.memory_mb) for c in result.cells] == [
        (0, (0, 1, 2, 3), 1024), (1, (4, 5, 6, 7), 1024)]
    assert {c.host_cell for c in result.cells} == {0, 1}


def test_nova_example_require_on_non_smt_host_fails():
    result = rejected(FLAT, request(2, 1024).dedicated().thread('require').build())
    assert result.reason == reasons.NO_SMT_FOR_REQUIRE
    assert result.host == 'host-0'


# --- Guests without NUMA topology ----------------------------------------------------------

def test_floating_guest_floats_over_every_shared_pcpu():
    result = assigned(SMT, request(2, 1024).build())
    assert result.cells == ()
    all_shared = SMT.cells[0].shared_cpus | SMT.cells[1].shared_cpus
    assert result.shared_cpus == all_shared == result.emulator_pcpus


@pytest.mark.parametrize('topology, vcpus, used, ratio, reason', [
    (host().cells(1, cores=4).build(), 1, 0, 4.0, reasons.HOST_NO_SHARED_CPUS),
    (SMT, 5, 0, 4.0, reasons.HOST_VCPUS),          # 4 shared pCPUs: no guest above 4 vCPUs
    (SMT, 4, 13, 4.0, reasons.HOST_VCPUS),         # 16 - 13 = 3 left
    (SMT, 3, 13, 4.0, None),
    (SMT, 4, 13, 4.25, None),                      # int(4 x 4.25) = 17
])
def test_floating_guest_vcpus_against_ratio(topology, vcpus, used, ratio, reason):
    usage = HostUsage(floating_vcpus=used)
    result = place(topology, request(vcpus, 512).build(), usage, FitPolicy(ratio, 1.0))
    assert getattr(result, 'reason', None) == reason


def test_floating_guest_sees_numa_guests_floating_vcpus():
    usage, _ = fill(SHARED, [request(4, 512).numa(1).build()] * 8)   # 32 = 8 shared x 4
    assert usage.shared_vcpus_by_cell == {0: 16, 1: 16}
    assert rejected(SHARED, request(1, 512).build(), usage).reason == reasons.HOST_VCPUS


# --- NUMA guests: cells -------------------------------------------------------------------

def test_more_guest_cells_than_host_cells():
    result = rejected(host().cells(1, cores=4, shared_cores=2).build(),
                      request(2, 1024).numa(2).build())
    assert (result.reason, result.shortfall) == (reasons.NOT_ENOUGH_CELLS, 1)


def test_two_guest_cells_that_both_only_fit_one_host_cell():
    usage = HostUsage(pinned=SMT.cells[1].cpus)
    result = rejected(SMT, request(4, 1024).numa(2).dedicated().build(), usage)
    assert result.reason == reasons.NOT_ENOUGH_CELLS


def test_guest_cells_land_on_distinct_host_cells_uneven_split():
    spec = request(6, 3072).numa_cells(((0, 1, 2, 3, 4), 1024), ((5,), 2048)).dedicated().build()
    result = assigned(SMT, spec)
    assert sorted(c.host_cell for c in result.cells) == [0, 1]
    assert [len(c.pinning) for c in result.cells] == [5, 1]


def test_best_fit_cell_keeps_the_free_cell_whole():
    usage, _ = fill(SMT, [request(2, 512).dedicated().build()])
    result = assigned(SMT, request(2, 512).dedicated().build(), usage)
    first = usage.pinned
    assert set(result.cells[0].pinning.values()) <= SMT.cells[0].cpus
    assert not first & set(result.cells[0].pinning.values())


def test_floating_vcpus_per_cell_against_ratio():
    usage = HostUsage(shared_vcpus_by_cell={0: 14, 1: 13})    # cells: 4 shared x 4 = 16
    result = assigned(SHARED, request(3, 512).numa(1).build(), usage)
    assert result.cells[0].host_cell == 1
    usage = HostUsage(shared_vcpus_by_cell={0: 14, 1: 14})    # 4 left host-wide, 2 per cell
    result = rejected(SHARED, request(3, 512).numa(1).build(), usage)
    assert result.reason == reasons.NUMA_CELL_SHARED_VCPUS
    assert result.detail == (
        "cell 0: room for 2 more floating vCPUs (4 shared pCPUs x 4.0), needs 3")
    result = rejected(SHARED, request(5, 512).numa(1).build())
    assert result.detail == "cell 0: 4 shared pCPUs, guest cell has 5 floating vCPUs"


def test_floating_numa_guest_needs_shared_cpus_in_its_cell():
    no_shared = host().cells(2, cores=4).build()
    assert rejected(no_shared, request(2, 512).numa(1).build()).reason in (
        reasons.HOST_NO_SHARED_CPUS, reasons.NUMA_CELL_NO_SHARED_CPUS)
    one_shared = dataclasses.replace(SMT, cells=(
        dataclasses.replace(SMT.cells[0], shared_cpus=frozenset()), SMT.cells[1]))
    result = assigned(one_shared, request(2, 512).numa(1).build())
    assert result.cells[0].host_cell == 1


# --- Pinning ------------------------------------------------------------------------------

def test_dedicated_guest_pins_every_vcpu_to_a_dedicated_pcpu():
    result = assigned(SMT, request(4, 1024).dedicated().build())
    cell = result.cells[0]
    assert sorted(cell.pinning) == [0, 1, 2, 3]
    assert set(cell.pinning.values()) <= SMT.cell(cell.host_cell).cpus
    assert len(set(cell.pinning.values())) == 4


def test_pinned_vcpus_are_never_overcommitted():
    usage, results = fill(SMT, [request(8, 512).dedicated().build()] * 3)
    assert [getattr(r, 'reason', None) for r in results] == [
        None, None, reasons.NUMA_CELL_NO_FREE_PCPUS]
    assert results[2].detail == "cell 0: 0 free dedicated pCPUs (prefer), needs 8"
    assert usage.pinned == SMT.cells[0].cpus | SMT.cells[1].cpus


def test_prefer_packs_sibling_threads():
    result = assigned(SMT, request(4, 1024).dedicated().thread('prefer').build())
    pins = result.cells[0].pinning
    cell = SMT.cell(result.cells[0].host_cell)
    assert cell.sibling_set(pins[0]) == {pins[0], pins[1]}
    assert cell.sibling_set(pins[2]) == {pins[2], pins[3]}


def test_require_takes_only_wholly_free_cores():
    usage, _ = fill(SMT, [request(1, 512).dedicated().build()])   # breaks one core of cell 0
    result = assigned(SMT, request(6, 512).dedicated().thread('require').build(), usage)
    cell = SMT.cell(result.cells[0].host_cell)
    for pcpu in result.cells[0].pinning.values():
        assert not cell.sibling_set(pcpu) & usage.pinned
    result = rejected(SMT, request(8, 512).numa(1).dedicated().thread('require').build(),
                      usage.consume(assigned(SMT, request(8, 512).dedicated().build(), usage)))
    assert result.reason == reasons.NUMA_CELL_NO_FREE_CORES


def test_isolate_on_smt_pins_one_thread_per_core_and_reserves_siblings():
    result = assigned(SMT, request(3, 1024).dedicated().thread('isolate').build())
    cell = result.cells[0]
    host_cell = SMT.cell(cell.host_cell)
    pins = set(cell.pinning.values())
    siblings = set().union(*(host_cell.sibling_set(p) for p in pins))
    assert cell.reserved_pcpus == siblings - pins
    assert len(cell.reserved_pcpus) == 3
    assert result.pinned_pcpus == siblings


def test_isolate_reserved_siblings_are_not_given_to_others():
    specs = [request(2, 512).dedicated().thread('isolate').build()] + [
        request(1, 512).dedicated().build()] * 12
    usage, results = fill(SMT, specs)
    taken = [p for r in results if isinstance(r, Assignment)
             for c in r.cells for p in c.pinning.values()]
    isolated = results[0].cells[0]
    assert not set(taken[2:]) & isolated.reserved_pcpus
    assert sum(isinstance(r, Assignment) for r in results) == 1 + 12


def test_isolate_on_non_smt_host_is_plain_pinning():
    result = assigned(FLAT, request(3, 1024).dedicated().thread('isolate').build())
    assert result.cells[0].reserved_pcpus == frozenset()
    assert len(result.cells[0].pinning) == 3


def test_isolate_runs_out_of_whole_cores():
    result = rejected(SMT, request(5, 1024).dedicated().thread('isolate').build())
    assert result.reason == reasons.NUMA_CELL_NO_FREE_CORES
    assert result.detail == "cell 0: 4 wholly free cores (isolate), needs 5"


def test_mixed_pins_only_the_dedicated_vcpus():
    result = assigned(SMT, request(4, 1024).numa(1).mixed({2, 3}).build())
    cell = result.cells[0]
    assert sorted(cell.pinning) == [2, 3]
    assert cell.shared_cpus == SMT.cell(cell.host_cell).shared_cpus
    assert result.shared_cpus == cell.shared_cpus
    usage = HostUsage().consume(result)
    assert usage.shared_vcpus_by_cell == {cell.host_cell: 2}


def test_mixed_needs_shared_cpus_for_its_floating_vcpus():
    no_shared = host().cells(1, cores=4, threads=2).build()
    result = rejected(no_shared, request(4, 1024).numa(1).mixed({2, 3}).build())
    assert result.reason == reasons.HOST_NO_SHARED_CPUS


# --- Emulator threads ---------------------------------------------------------------------

def test_emulator_isolate_takes_an_extra_pcpu_disjoint_from_vcpus():
    result = assigned(FLAT, request(2, 1024).numa(2).dedicated().emulator('isolate').build())
    pins = {p for c in result.cells for p in c.pinning.values()}
    assert len(result.emulator_pcpus) == 1
    assert not result.emulator_pcpus & pins
    first_cell = FLAT.cell(result.cells[0].host_cell)
    assert result.emulator_pcpus <= first_cell.cpus
    assert HostUsage().consume(result).pinned == pins | result.emulator_pcpus


def test_emulator_isolate_with_isolate_threads_reserves_its_siblings():
    result = assigned(SMT, request(2, 1024).dedicated().thread('isolate')
                      .emulator('isolate').build())
    cell = SMT.cell(result.cells[0].host_cell)
    (emulator,) = result.emulator_pcpus
    assert cell.sibling_set(emulator) - {emulator} <= result.cells[0].reserved_pcpus
    assert len(result.pinned_pcpus) == 6


def test_emulator_isolate_needs_room():
    result = rejected(FLAT, request(4, 1024).dedicated().emulator('isolate').build())
    assert result.reason == reasons.NUMA_CELL_NO_EMULATOR_PCPU


@pytest.mark.parametrize('topology, expect_shared', [(SMT, True),
                                                      (host().cells(1, cores=4).build(), False)])
def test_emulator_share(topology, expect_shared):
    result = assigned(topology, request(2, 1024).dedicated().build())
    pins = frozenset(result.cells[0].pinning.values())
    if expect_shared:
        assert result.emulator_pcpus == topology.cell(result.cells[0].host_cell).shared_cpus
    else:
        assert result.emulator_pcpus == pins
    assert HostUsage().consume(result).pinned == pins     # share holds nothing more


# --- General ------------------------------------------------------------------------------

def test_sev_slots():
    sev_host = host().cells(1, cores=2, shared_cores=2).sev(1).build()
    spec = request(1, 512).sev().build()
    usage, results = fill(sev_host, [spec, spec])
    assert results[0].sev and usage.sev_used == 1
    assert results[1].reason == reasons.SEV_NO_SLOTS
    assert results[1].detail == "1 of 1 SEV slots used, needs 1"
    assert rejected(SMT, spec).reason == reasons.SEV_NO_SLOTS


def test_fit_is_pure_and_the_assignment_round_trips():
    usage, _ = fill(SMT, [request(2, 512).dedicated().build()])
    before = (SMT.to_dict(), usage)
    spec = request(4, 2048).numa(2).mixed({0, 2}).emulator('isolate').build()
    result = fit(SMT, usage, spec, POLICY, 'vm-x')
    assert (SMT.to_dict(), usage) == before
    assert Assignment.from_dict(result.to_dict()) == result
    assert fit(SMT, usage, spec, POLICY, 'vm-x') == result        # deterministic
