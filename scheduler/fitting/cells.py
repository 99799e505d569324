"""Guest NUMA cells onto distinct host cells, each with its pins, floats and memory.

Each guest cell goes to a different host cell (an injective map, like
Nova's permutations).  Host cells are tried best-fit first - cells that
already hold a matching PCI device, then the fewest free pCPUs, then the
least free memory of the kind asked, then id - so small guests fill
partly used cells and whole cells stay whole.  One cell's fit does not
depend on the others' (each host cell serves one guest cell), so each
(guest cell, host cell) fit is computed once and the search over maps only
combines them; the search is bounded (``MAX_SEARCH_STEPS``,
``MAX_MAPS_TRIED``) so many-cell hosts cannot blow it up.
"""

import dataclasses

from scheduler.fitting import cell_checks, pages, pinning, reasons
from scheduler.fitting.reasons import Rejection
from wire.assignment import CellAssignment
from wire.request_spec import (
    CPU_DEDICATED,
    EMULATOR_ISOLATE,
    PAGE_SMALL,
    THREAD_REQUIRE,
    GuestCell,
)
from wire.topology import SMALL_PAGE_KB

MAX_SEARCH_STEPS = 5000    # (guest cell, host cell) trials in one search
MAX_MAPS_TRIED = 64        # complete maps offered to ``accept`` (PCI affinity)


@dataclasses.dataclass(frozen=True, slots=True)
class GuestCellNeed:
    """What one guest cell asks of the host cell it lands on."""

    cell: GuestCell
    pinned: tuple          # vCPU ids pinned to dedicated pCPUs (sorted)
    floating: tuple        # vCPU ids floating on the cell's shared pCPUs
    emulator: bool = False  # this host cell also gives the isolated emulator pCPU


@dataclasses.dataclass(frozen=True, slots=True)
class CellFit:
    assignment: CellAssignment
    emulator_pcpus: frozenset = frozenset()


def guest_cell_needs(spec):
    """Per guest cell needs; () for a guest without NUMA topology.

    A request that pins vCPUs or asks for hugepages without saying how many
    NUMA cells gets one cell (Nova implies a one-cell topology for both).
    """
    cells = spec.numa_cells
    dedicated = spec.dedicated_vcpus
    if not dedicated and spec.cpu_policy == CPU_DEDICATED:
        dedicated = frozenset(range(spec.vcpus))
    if not cells:
        if not dedicated and spec.page_size in (None, PAGE_SMALL, SMALL_PAGE_KB):
            return ()
        cells = (GuestCell(0, tuple(range(spec.vcpus)), spec.memory_mb),)
    isolate = spec.emulator_threads_policy == EMULATOR_ISOLATE
    return tuple(GuestCellNeed(
        cell=cell,
        pinned=tuple(sorted(v for v in cell.vcpus if v in dedicated)),
        floating=tuple(sorted(v for v in cell.vcpus if v not in dedicated)),
        emulator=isolate and index == 0) for index, cell in enumerate(cells))


def fit_cell(cell, cores, usage, need, spec, policy):
    """Fit one guest cell on one host cell: a CellFit or a Rejection."""
    rejection = _check_floating(cell, usage, len(need.floating), policy)
    if rejection:
        return rejection
    page_kb = pages.choose(cell, usage, need.cell.memory_mb, spec.page_size,
                           policy.ram_allocation_ratio, policy.large_page_order)
    if isinstance(page_kb, Rejection):
        return page_kb
    pinned = _pin(cell, cores, usage, need, spec.thread_policy)
    if isinstance(pinned, Rejection):
        return pinned
    pcpus, reserved, emulator = pinned
    return CellFit(CellAssignment(
        guest_cell=need.cell.id, host_cell=cell.id, vcpus=tuple(sorted(need.cell.vcpus)),
        memory_mb=need.cell.memory_mb, page_size_kb=page_kb,
        pinning=dict(zip(need.pinned, pcpus)), shared_cpus=cell.shared_cpus,
        reserved_pcpus=reserved), emulator)


def _check_floating(cell, usage, floating, policy):
    if not floating:
        return None
    shared = len(cell.shared_cpus)
    miss = cell_checks.floating_miss(floating, shared, usage.shared_vcpus_by_cell.get(cell.id, 0),
                                     policy.cpu_allocation_ratio)
    if miss is None:
        return None
    reason, _, have, ratio = miss
    if reason == reasons.NUMA_CELL_NO_SHARED_CPUS:
        detail = f"cell {cell.id}: no shared pCPUs for {floating} floating vCPUs"
    elif ratio is None:
        detail = reasons.vcpu_limit_detail(floating, shared, cell.id)
    else:
        detail = reasons.vcpu_room_detail(floating, have, shared, ratio, cell.id)
    return Rejection(reason, detail, cell=cell.id, shortfall=floating - have)


def _pin(cell, cores, usage, need, thread_policy):
    """(pCPUs in vCPU order, reserved pCPUs, emulator pCPUs) or a Rejection."""
    count = len(need.pinned)
    if not count and not need.emulator:
        return (), frozenset(), frozenset()
    if count and thread_policy == THREAD_REQUIRE and not cores.smt:
        return Rejection(reasons.NO_SMT_FOR_REQUIRE,
                         f"cell {cell.id}: no SMT siblings, thread policy require",
                         cell=cell.id, shortfall=count)
    free = cell.cpus - usage.pinned
    available, reason, what = pinning.room(thread_policy, cores.smt,
                                           *pinning.counts(cores, free))
    if count > available:
        return Rejection(
            reason,
            f"cell {cell.id}: {available} {what} ({thread_policy or 'prefer'}), needs {count}",
            cell=cell.id, shortfall=count - available)
    pcpus, reserved = pinning.pick(cores, free, count, thread_policy)
    if not need.emulator:
        return pcpus, reserved, frozenset()
    left = free.difference(pcpus, reserved)
    if not pinning.emulator_capacity(cores, left, thread_policy):
        return Rejection(reasons.NUMA_CELL_NO_EMULATOR_PCPU,
                         f"cell {cell.id}: no free pCPU left for the isolated emulator threads "
                         f"after {count} pinned vCPUs", cell=cell.id, shortfall=1)
    emulator, emulator_reserved = pinning.pick_emulator(cores, left, thread_policy)
    return pcpus, reserved | emulator_reserved, emulator


def place(host, facts, usage, needs, spec, policy, accept, preferred_cells=frozenset()):
    """Map guest cells onto distinct host cells; ``accept(fits)`` may veto a map.

    ``accept`` returns a result or a Rejection; the first accepted result is
    returned with the fits as ``(fits, result)``.  Otherwise the most telling
    Rejection: the accept's, a guest cell that fits no host cell, or
    NOT_ENOUGH_CELLS.
    """
    if len(needs) > len(host.cells):
        return Rejection(reasons.NOT_ENOUGH_CELLS,
                         f"guest has {len(needs)} NUMA cells, host has {len(host.cells)}",
                         shortfall=len(needs) - len(host.cells))
    order = sorted(host.cells, key=_order_key(usage, needs, spec, preferred_cells))
    search = _Search(facts, usage, needs, spec, policy, accept, order)
    found = search.run(0, (), ())
    if found is not None:
        return found
    if search.vetoed is not None:
        return search.vetoed
    return search.explain()


def _order_key(usage, needs, spec, preferred_cells):
    pinned = any(need.pinned or need.emulator for need in needs)
    small = spec.page_size in (None, PAGE_SMALL, SMALL_PAGE_KB)

    def key(cell):
        free_pcpus = len(cell.cpus - usage.pinned) if pinned else 0
        if small:
            free_mb = cell.small_page_mb - usage.small_mb_by_cell.get(cell.id, 0)
        else:
            free_mb = sum(pages.free_pages(cell, usage, kb) * kb for kb in cell.pages) // 1024
        return (cell.id not in preferred_cells, free_pcpus, free_mb, cell.id)
    return key


class _Search:
    """Depth-first over injective maps, with per-pair fits memoised."""

    def __init__(self, facts, usage, needs, spec, policy, accept, order):
        self.facts, self.usage, self.needs = facts, usage, needs
        self.spec, self.policy, self.accept, self.order = spec, policy, accept, order
        self.memo = {}
        self.steps = MAX_SEARCH_STEPS
        self.maps_left = MAX_MAPS_TRIED
        self.vetoed = None

    def fit(self, index, cell):
        key = (index, cell.id)
        result = self.memo.get(key)
        if result is None:
            result = fit_cell(cell, self.facts.cores[cell.id], self.usage, self.needs[index],
                              self.spec, self.policy)
            self.memo[key] = result
        return result

    def run(self, index, used, fits):
        if index == len(self.needs):
            return self._offer(fits)
        for cell in self.order:
            if cell.id in used or self.steps <= 0 or self.maps_left <= 0:
                continue
            self.steps -= 1
            fitted = self.fit(index, cell)
            if isinstance(fitted, Rejection):
                continue
            found = self.run(index + 1, used + (cell.id,), fits + (fitted,))
            if found is not None:
                return found
        return None

    def _offer(self, fits):
        self.maps_left -= 1
        result = self.accept(fits)
        if isinstance(result, Rejection):
            if self.vetoed is None:
                self.vetoed = result
            return None
        return fits, result

    def explain(self):
        """Why no map was found: a guest cell that fits nowhere, or too few cells."""
        fitting_cells = set()
        for index in range(len(self.needs)):
            results = [self.fit(index, cell) for cell in self.order]
            misses = [r for r in results if isinstance(r, Rejection)]
            if len(misses) == len(results):
                return min(misses, key=_closeness)
            fitting_cells.update(r.assignment.host_cell for r in results
                                 if not isinstance(r, Rejection))
        return Rejection(reasons.NOT_ENOUGH_CELLS,
                         f"guest's {len(self.needs)} NUMA cells fit only host cells "
                         f"{sorted(fitting_cells)}, not each on its own cell",
                         shortfall=max(1, len(self.needs) - len(fitting_cells)))


def _closeness(rejection):
    return rejection.shortfall if rejection.shortfall is not None else float('inf')
