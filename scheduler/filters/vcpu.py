"""vCPUs: floating vCPUs against shared pCPUs x cpu_allocation_ratio (summary precheck)."""

from scheduler.filters.base import SummaryFilter
from scheduler.fitting import reasons


class VcpuFilter(SummaryFilter):
    name = 'vcpu'
    cost = 4
    reasons = frozenset({reasons.HOST_NO_SHARED_CPUS, reasons.HOST_VCPUS})
