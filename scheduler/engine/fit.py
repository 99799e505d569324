"""The engine's one seam to the fit helper's code (``scheduler.fitting``).

Everything the placement pipeline needs from the fitting core goes through
these few functions: the per-host summary (per cell, and the host totals the
index reads), the request's needs (computed once per request), the index's
necessary check and the O(1) quick reject on a summary, and the exact fit.
"""

from scheduler.fitting.fit import fit as exact_fit
from scheduler.fitting.necessary import necessary_check
from scheduler.fitting.policy import FitPolicy
from scheduler.fitting.reasons import Rejection
from scheduler.fitting.summary import HostSummary, RequestNeeds

__all__ = ['FitPolicy', 'Rejection', 'exact_fit', 'necessary_check', 'needs_of', 'quick_reject',
           'summarize']


def summarize(topology, usage):
    """The fit helper's HostSummary of ``topology`` under ``usage``."""
    return HostSummary.of(topology, usage)


def needs_of(spec, policy):
    """The request's needs, derived once per request."""
    return RequestNeeds.of(spec, policy)


def quick_reject(needs, summary):
    """None, or a Rejection proven from the summary alone (never a false reject)."""
    return needs.quick_reject(summary)
