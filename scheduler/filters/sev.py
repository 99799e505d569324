"""SEV: ``hw:mem_encryption`` needs a free slot of its model's pool, and SEV-SNP a host that
offers it (summary precheck)."""

from scheduler.filters.base import SummaryFilter
from scheduler.fitting import reasons


class SevFilter(SummaryFilter):
    name = 'sev'
    cost = 3
    reasons = frozenset({reasons.SEV_NO_SLOTS, reasons.SEV_SNP_UNSUPPORTED})
