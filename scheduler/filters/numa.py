"""NUMA: cells, free pCPUs and cores, shared CPUs, memory and pages per cell (precheck)."""

from scheduler.filters.base import SummaryFilter
from scheduler.fitting import reasons


class NumaFilter(SummaryFilter):
    name = 'numa'
    cost = 6
    reasons = frozenset({
        reasons.NOT_ENOUGH_CELLS, reasons.NUMA_CELL_NO_FREE_PCPUS,
        reasons.NUMA_CELL_NO_FREE_CORES, reasons.NO_SMT_FOR_REQUIRE,
        reasons.NUMA_CELL_NO_SHARED_CPUS, reasons.NUMA_CELL_SHARED_VCPUS,
        reasons.NUMA_CELL_NO_MEMORY, reasons.NUMA_CELL_NO_PAGE_SIZE,
        reasons.NUMA_CELL_NO_FREE_PAGES, reasons.PAGE_SIZE_NOT_DIVISOR,
        reasons.NUMA_CELL_NO_EMULATOR_PCPU,
    })
