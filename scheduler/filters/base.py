"""What every host filter is, and the reasons the non-resource filters give.

A filter is cheap and answers one question about one host: ``None`` when the
host passes, or a Rejection with a named reason and a sentence with numbers.
Resource filters (RAM, vCPU, NUMA, PCI, SEV) are O(1) prechecks on the host
summary; the exact fit stays authoritative.

Class attributes tell the engine how to run a filter cheaply:

* ``cost`` orders filters, cheapest first;
* ``static`` filters look only at the topology fields in
  ``scheduler.engine.fleet.STATIC_FIELDS`` (enabled, up, secure_boot, traits,
  aggregates), so the engine caches their verdicts per request shape until
  one of those changes on some host;
* ``applies(spec)`` lets a filter step aside for requests it has nothing to
  say about (no traits asked, no server group), so it costs nothing then.
"""

from scheduler.engine import fit as engine_fit
from scheduler.fitting.reasons import Rejection

HOST_DISABLED = 'HOST_DISABLED'
HOST_DOWN = 'HOST_DOWN'
TRAIT_MISSING = 'TRAIT_MISSING'
TRAIT_FORBIDDEN = 'TRAIT_FORBIDDEN'
AGGREGATE_EXTRA_SPEC_MISMATCH = 'AGGREGATE_EXTRA_SPEC_MISMATCH'
SECURE_BOOT_UNSUPPORTED = 'SECURE_BOOT_UNSUPPORTED'
IMAGE_MISSING = 'IMAGE_MISSING'
SERVER_GROUP_AFFINITY = 'SERVER_GROUP_AFFINITY'
SERVER_GROUP_ANTI_AFFINITY = 'SERVER_GROUP_ANTI_AFFINITY'


class BaseFilter:
    """One host filter; subclasses override ``host_passes`` (and the hints)."""

    name = 'base'
    cost = 10
    static = False

    def __init__(self, policy=None):
        self.policy = policy

    def prepare(self, spec, context):
        """The check to run on each host for one request (``context``: RequestContext)."""
        return lambda host_state: self.host_passes(host_state, spec)

    def applies(self, spec):
        """False when this filter has nothing to check for ``spec``."""
        return True

    def static_key(self, spec):
        """What of ``spec`` a static filter's verdict depends on (hashable)."""
        return None

    def host_passes(self, host_state, spec):
        """None when the host passes; a Rejection naming the reason otherwise."""
        raise NotImplementedError

    def reject(self, host_state, reason, detail, **extra):
        """A Rejection for ``host_state`` with this filter's reason."""
        return Rejection(reason, detail, host=host_state.name, **extra)


class SummaryFilter(BaseFilter):
    """A resource precheck: the fit helper's quick reject, limited to ``reasons``.

    The engine runs every enabled summary filter with one quick-reject call
    per host (the request's needs are computed once); used alone, the filter
    derives the needs itself.
    """

    cost = 5
    reasons = frozenset()

    def __init__(self, policy=None):
        self.policy = policy or engine_fit.FitPolicy()

    def host_passes(self, host_state, spec, needs=None):
        if needs is None:
            needs = engine_fit.needs_of(spec, self.policy)
        rejection = engine_fit.quick_reject(needs, host_state.summary)
        if rejection is not None and rejection.reason in self.reasons:
            return rejection.on_host(host_state.name)
        return None
