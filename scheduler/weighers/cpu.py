"""Free shared vCPUs (shared pCPUs minus floating vCPUs): spread or pack."""

from scheduler.weighers.base import BaseWeigher


class CpuWeigher(BaseWeigher):
    name = 'cpu'

    def weigh(self, host_state, spec, assignment):
        return float(host_state.summary.free_shared_vcpus)

    def estimate_terms(self, spec):
        return {'free_shared_vcpus': 1.0}
