"""Prefer the fit that breaks the fewest whole cores and whole free cells.

Raw weight = (whole free cores after - before) + cores-per-cell x (wholly
free cells after - before), so it is 0 for a fit that only uses already
broken cores, and more negative the more intact capacity the fit splits.
Being a difference, it does not favour big hosts over small ones; the RAM
and CPU weighers decide spread or pack.
"""

from scheduler.fitting.facts import facts_of
from scheduler.weighers.base import BaseWeigher

_MEMO_LIMIT = 20000
_core_maps = {}


def intact_capacity(topology, pinned):
    """Whole free cores, plus the cores of cells whose dedicated pCPUs are all free."""
    score = 0
    for cell in topology.cells:
        cores = facts_of(topology).cores[cell.id].cores
        whole = sum(1 for core in cores if pinned.isdisjoint(core))
        score += whole
        if cores and whole == len(cores):
            score += len(cores)
    return score


def fragmentation(topology, before, taken):
    """intact_capacity(after) - intact_capacity(before), looking only at ``taken`` pCPUs."""
    core_of = _core_map(topology)
    cores = facts_of(topology).cores
    broken = {core_of[cpu] for cpu in taken - before if cpu in core_of}
    lost = sum(1 for _, core in broken if before.isdisjoint(core))
    for cell_id in {cell_id for cell_id, _ in broken}:
        cell_cores = cores[cell_id].cores
        if all(before.isdisjoint(core) for core in cell_cores):
            lost += len(cell_cores)
    return -lost


def _core_map(topology):
    """pCPU -> (cell id, core threads), memoised per topology value."""
    entry = _core_maps.get(id(topology))
    if entry is not None and entry[0] is topology:
        return entry[1]
    mapping = {}
    for cell_id, cell_cores in facts_of(topology).cores.items():
        for core in cell_cores.cores:
            for cpu in core:
                mapping[cpu] = (cell_id, core)
    if len(_core_maps) >= _MEMO_LIMIT:
        _core_maps.clear()
    _core_maps[id(topology)] = (topology, mapping)
    return mapping


class NumaFragmentationWeigher(BaseWeigher):
    name = 'numa_fragmentation'

    def applies(self, spec):
        return bool(spec.dedicated_vcpus)

    def weigh(self, host_state, spec, assignment):
        return float(fragmentation(host_state.topology, host_state.usage.pinned,
                                   assignment.pinned_pcpus))
