"""Prefer the fit that breaks the fewest whole cores and whole free cells.

Raw weight = (whole free cores after - before) + cores-per-cell x (wholly
free cells after - before), so it is 0 for a fit that only uses already
broken cores, and more negative the more intact capacity the fit splits.
Being a difference, it does not favour big hosts over small ones; the RAM
and CPU weighers decide spread or pack.
"""

from scheduler.weighers.base import BaseWeigher


def intact_capacity(topology, pinned):
    """Whole free cores, plus cores of cells with every dedicated pCPU free."""
    score = 0
    for cell in topology.cells:
        cores = _cores(cell)
        whole = sum(1 for core in cores if not core & pinned)
        score += whole
        if cores and whole == len(cores):
            score += len(cores)
    return score


def _cores(cell):
    if not cell.siblings:
        return [frozenset((cpu,)) for cpu in cell.cpus]
    cores = [group & cell.cpus for group in cell.siblings]
    seen = frozenset().union(*cores) if cores else frozenset()
    return [c for c in cores if c] + [frozenset((cpu,)) for cpu in cell.cpus - seen]


class NumaFragmentationWeigher(BaseWeigher):
    name = 'numa_fragmentation'

    def applies(self, spec):
        return bool(spec.dedicated_vcpus)

    def weigh(self, host_state, spec, assignment):
        before = host_state.usage.pinned
        after = before | assignment.pinned_pcpus
        topology = host_state.topology
        return float(intact_capacity(topology, after) - intact_capacity(topology, before))
