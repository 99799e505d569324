"""Shared helpers for fitting tests."""

from scheduler.fitting.fit import fit
from scheduler.fitting.policy import FitPolicy
from scheduler.fitting.reasons import Rejection
from scheduler.fitting.usage import HostUsage

POLICY = FitPolicy()


def place(topology, spec, usage=None, policy=POLICY, instance='vm-1'):
    """Fit and return the result (Assignment or Rejection)."""
    usage = HostUsage.of_host(topology) if usage is None else usage
    return fit(topology, usage, spec, policy, instance)


def assigned(topology, spec, usage=None, policy=POLICY):
    result = place(topology, spec, usage, policy)
    assert not isinstance(result, Rejection), str(result)
    return result


def rejected(topology, spec, usage=None, policy=POLICY):
    result = place(topology, spec, usage, policy)
    assert isinstance(result, Rejection), result
    return result


def fill(topology, specs, policy=POLICY):
    """Place ``specs`` in turn, consuming each; return (usage, results)."""
    usage = HostUsage.of_host(topology)
    results = []
    for index, spec in enumerate(specs):
        result = fit(topology, usage, spec, policy, f"vm-{index}")
        if not isinstance(result, Rejection):
            usage = usage.consume(result)
        results.append(result)
    return usage, results
