"""SEV: ``hw:mem_encryption`` needs a free SEV slot (summary precheck)."""

from scheduler.filters.base import SummaryFilter
from scheduler.fitting import reasons


class SevFilter(SummaryFilter):
    name = 'sev'
    cost = 3
    reasons = frozenset({reasons.SEV_NO_SLOTS})
