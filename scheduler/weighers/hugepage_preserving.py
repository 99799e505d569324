"""Keep hugepage pools for guests that ask for hugepages.

A small-page guest (no ``hw:mem_page_size``, or ``small``) weighs a host lower
the more free hugepage memory it has; a hugepage guest is indifferent.
"""

from scheduler.weighers.base import BaseWeigher
from wire.request_spec import PAGE_SMALL


def wants_hugepages(spec):
    return spec.page_size not in (None, PAGE_SMALL, 4)


class HugepagePreservingWeigher(BaseWeigher):
    name = 'hugepage_preserving'

    def applies(self, spec):
        return not wants_hugepages(spec)

    def weigh(self, host_state, spec, assignment):
        return -float(host_state.summary.free_hugepage_mb)

    def estimate_terms(self, spec):
        return {'free_hugepage_mb': -1.0}
