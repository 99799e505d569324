"""RAM: small-page memory x ram_allocation_ratio, host-wide (summary precheck)."""

from scheduler.filters.base import SummaryFilter
from scheduler.fitting import reasons


class RamFilter(SummaryFilter):
    name = 'ram'
    cost = 4
    reasons = frozenset({reasons.HOST_RAM})
