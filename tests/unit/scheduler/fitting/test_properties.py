"""Invariants of every Assignment over random hosts and request streams (hypothesis)."""

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.fitting.fit import fit
from scheduler.fitting.policy import FitPolicy
from scheduler.fitting.reasons import RESOURCE_REASONS, Rejection
from scheduler.fitting.summary import HostSummary, RequestNeeds
from scheduler.fitting.usage import HostUsage
from wire.assignment import Assignment

from .strategies import hosts, requests

POLICIES = st.sampled_from((FitPolicy(), FitPolicy(1.0, 1.0), FitPolicy(2.0, 1.5)))
SETTINGS = settings(max_examples=150, deadline=None)
# Per-cell reasons: the fit and the summary may name different ones when several
# cells miss by the same amount, or report NOT_ENOUGH_CELLS from either side.
_CELL_REASONS = {r for r in RESOURCE_REASONS if r.startswith(('NUMA_CELL', 'NOT_ENOUGH', 'NO_SMT',
                                                               'PAGE_SIZE'))}


def place_stream(topology, specs, policy):
    """Fit each spec in turn, consuming accepted ones; check quick_reject as we go."""
    usage = HostUsage.of_host(topology)
    placed = []
    for index, spec in enumerate(specs):
        needs = RequestNeeds.of(spec, policy)
        quick = needs.quick_reject(HostSummary.of(topology, usage))
        before = repr(usage)
        result = fit(topology, usage, spec, policy, f"vm-{index}")
        assert repr(usage) == before, 'the fit changed its usage input'
        assert fit(topology, usage, spec, policy, f"vm-{index}") == result, 'not deterministic'
        if isinstance(result, Rejection):
            assert result.reason in RESOURCE_REASONS
            assert result.host == topology.name and result.detail
            continue
        assert quick is None, f"quick_reject said {quick} but the fit placed {result}"
        assert needs.reject_reason(HostSummary.of(topology, usage)) is None
        assert Assignment.from_dict(result.to_dict()) == result
        usage = usage.consume(result)
        placed.append((spec, result))
    return usage, placed


@SETTINGS
@given(hosts(), st.lists(requests(), min_size=3, max_size=12), POLICIES)
def test_cpu_invariants(topology, specs, policy):
    _usage, placed = place_stream(topology, specs, policy)
    held = set()
    for spec, result in placed:
        mine = result.pinned_pcpus
        assert not held & mine, 'a pCPU is held twice'
        held |= mine
        pins = [p for c in result.cells for p in c.pinning.values()]
        assert len(pins) == len(set(pins)) == len(spec.dedicated_vcpus)
        for cell in result.cells:
            host_cell = topology.cell(cell.host_cell)
            assert set(cell.pinning.values()) | cell.reserved_pcpus <= host_cell.cpus
            assert set(cell.pinning) <= set(cell.vcpus)
            if len(cell.vcpus) > len(cell.pinning):
                assert cell.shared_cpus and cell.shared_cpus <= host_cell.shared_cpus
        assert len({c.host_cell for c in result.cells}) == len(result.cells)
        _check_isolation(topology, spec, result, pins)


def _check_isolation(topology, spec, result, pins):
    if spec.thread_policy == 'isolate':
        for cell in result.cells:
            host_cell = topology.cell(cell.host_cell)
            for pcpu in cell.pinning.values():
                siblings = host_cell.sibling_set(pcpu) & host_cell.cpus
                assert siblings <= result.pinned_pcpus, 'isolate sibling not held'
                assert len(siblings & set(pins)) == 1, 'two vCPUs on one isolated core'
    if spec.emulator_threads_policy == 'isolate':
        assert len(result.emulator_pcpus) == 1
        assert not result.emulator_pcpus & set(pins)
        assert result.emulator_pcpus <= result.pinned_pcpus


@SETTINGS
@given(hosts(), st.lists(requests(), min_size=3, max_size=12), POLICIES)
def test_memory_invariants(topology, specs, policy):
    usage, placed = place_stream(topology, specs, policy)
    pages, small, floating = {}, {}, {}
    for _spec, result in placed:
        assert sum(c.memory_mb for c in result.cells) in (0, result.memory_mb)
        for cell in result.cells:
            assert (cell.memory_mb * 1024) % cell.page_size_kb == 0
            key = (cell.host_cell, cell.page_size_kb)
            pages[key] = pages.get(key, 0) + cell.memory_mb * 1024 // cell.page_size_kb
            if cell.page_size_kb == 4:
                small[cell.host_cell] = small.get(cell.host_cell, 0) + cell.memory_mb
            floating[cell.host_cell] = floating.get(cell.host_cell, 0) + (
                len(cell.vcpus) - len(cell.pinning))
    for (cell_id, size_kb), count in pages.items():
        if size_kb != 4:
            assert count <= topology.cell(cell_id).pages[size_kb], 'hugepage pool overdrawn'
    for cell_id, used in small.items():
        assert used <= int(topology.cell(cell_id).small_page_mb * policy.ram_allocation_ratio)
    for cell_id, used in floating.items():
        assert used <= int(len(topology.cell(cell_id).shared_cpus)
                           * policy.cpu_allocation_ratio)
    total_small = sum(c.small_page_mb for c in topology.cells)
    assert usage.small_memory_mb <= int(total_small * policy.ram_allocation_ratio)
    total_shared = sum(len(c.shared_cpus) for c in topology.cells)
    assert usage.shared_vcpus <= int(total_shared * policy.cpu_allocation_ratio)


@SETTINGS
@given(hosts(), st.lists(requests(), min_size=3, max_size=12), POLICIES)
def test_pci_and_sev_invariants(topology, specs, policy):
    usage, placed = place_stream(topology, specs, policy)
    devices = {d.address: d for d in topology.pci_devices}
    given_out = [p.address for _s, r in placed for p in r.pci_devices]
    assert len(given_out) == len(set(given_out)), 'a device given twice'
    for address in given_out:
        device = devices[address]
        assert device.parent not in given_out, 'a VF given with its PF'
    for spec, result in placed:
        assert len(result.pci_devices) == sum(r.count for r in spec.pci_requests) + sum(
            1 for p in spec.ports if p.vnic_type == 'direct')
        _check_affinity(spec, result, devices, topology)
    assert usage.sev_used == sum(r.sev and not r.sev_es for _s, r in placed) <= (
        topology.sev_slots)
    assert usage.sev_es_used == sum(r.sev_es for _s, r in placed) <= topology.sev_es_slots
    for spec, result in placed:
        assert result.sev_es == (spec.mem_encryption_model in ('amd-sev-es', 'amd-sev-snp'))
        assert result.sev_snp == (spec.mem_encryption_model == 'amd-sev-snp')
        assert topology.sev_snp_supported or not result.sev_snp


def _check_affinity(spec, result, devices, topology):
    if not result.cells:
        return
    host_cells = {c.host_cell for c in result.cells}
    alias_policy = {f"alias:{r.alias}": r.numa_policy for r in spec.pci_requests}
    for chosen in result.pci_devices:
        policy = alias_policy.get(chosen.request, spec.pci_numa_affinity_policy)
        node = devices[chosen.address].numa_node
        if policy == 'required':
            assert node in host_cells
        elif policy == 'legacy':
            assert node is None or node in host_cells
        elif policy == 'socket':       # a cell on the socket of one of the guest's cells
            socket_of = {cell.id: cell.socket for cell in topology.cells}
            assert None not in socket_of.values() and node is not None
            assert socket_of[node] in {socket_of[cell] for cell in host_cells}


@SETTINGS
@given(hosts(), st.lists(requests(), min_size=1, max_size=8), POLICIES)
def test_releasing_everything_gives_back_the_empty_usage(topology, specs, policy):
    usage, placed = place_stream(topology, specs, policy)
    for _spec, result in reversed(placed):
        usage = usage.release(result)
    assert usage == HostUsage()


@settings(max_examples=200, deadline=None)
@given(hosts(), requests(), POLICIES, st.data())
def test_quick_reject_never_contradicts_the_fit(topology, spec, policy, data):
    fillers = data.draw(st.lists(requests(), max_size=6))
    usage, _placed = place_stream(topology, fillers, policy)
    result = fit(topology, usage, spec, policy, 'probe')
    quick = RequestNeeds.of(spec, policy).quick_reject(HostSummary.of(topology, usage))
    if not isinstance(result, Rejection):
        assert quick is None, f"quick_reject said {quick} but the fit placed it"


@SETTINGS
@given(hosts(), requests(), st.data())
def test_pci_affinity_under_cpu_pressure(topology, spec, data):
    """Busy cells push guests away from their devices: the policy must still hold."""
    dedicated = sorted(set().union(*(c.cpus for c in topology.cells)))
    busy = frozenset(data.draw(st.lists(st.sampled_from(dedicated), unique=True))
                     if dedicated else ())
    result = fit(topology, HostUsage(pinned=busy), spec, FitPolicy(), 'probe')
    if not isinstance(result, Rejection):
        assert not result.pinned_pcpus & busy
        _check_affinity(spec, result, {d.address: d for d in topology.pci_devices}, topology)


@settings(max_examples=200, deadline=None)
@given(hosts(), requests(), POLICIES, st.data())
def test_without_pci_the_summary_and_the_fit_agree_exactly(topology, spec, policy, data):
    """CPU, memory, pages and SEV are checked exactly by both (coded independently):
    without PCI needs, quick_reject passes exactly the hosts the fit accepts."""
    spec = dataclasses.replace(spec, pci_requests=(), ports=())
    fillers = data.draw(st.lists(requests(), max_size=6))
    usage, _placed = place_stream(topology, fillers, policy)
    result = fit(topology, usage, spec, policy, 'probe')
    quick = RequestNeeds.of(spec, policy).quick_reject(HostSummary.of(topology, usage))
    assert (quick is None) == (not isinstance(result, Rejection)), (quick, result)
    if quick is not None:
        assert quick.reason == result.reason or {quick.reason, result.reason} <= _CELL_REASONS
