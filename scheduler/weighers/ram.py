"""Free RAM: spread (positive multiplier) or pack (negative multiplier)."""

from scheduler.weighers.base import BaseWeigher


class RamWeigher(BaseWeigher):
    name = 'ram'

    def weigh(self, host_state, spec, assignment):
        return float(host_state.summary.free_ram_mb)

    def estimate_terms(self, spec):
        return {'free_ram_mb': 1.0}
