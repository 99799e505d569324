"""What every weigher is, and Nova's normalisation contract.

``weigh(host_state, spec, assignment)`` returns a raw float (bigger is
better before the multiplier).  The engine normalises each weigher's raw
values across the candidates to 0..1 with ``(w - min) / (max - min)``
(all 0 when every value is equal), multiplies by the weigher's multiplier
and sums.  A positive multiplier prefers big raw values, a negative one
small raw values (e.g. RAM: spread vs pack).

``estimate_terms(spec)`` describes the weigher as a linear function of
HostSummary host totals ({field: coefficient}); the engine uses it to rank all
hosts cheaply before it runs exact fits on the best few.  A weigher whose
value depends on the exact fit returns {} (it only orders fitted hosts).
``preferred_hosts(spec, fleet)`` names hosts that must be fitted whatever
the estimate says (soft affinity to hosts with group members);
``avoided_hosts(spec, fleet)`` names hosts the weigher will rank low (soft
anti-affinity), which the engine does not count towards the hosts it fits
before weighing, so other hosts get their chance.
"""


class BaseWeigher:
    name = 'base'
    default_multiplier = 1.0

    def applies(self, spec):
        """False when the weigher has nothing to say about ``spec`` (weight 0 everywhere)."""
        return True

    def weigh(self, host_state, spec, assignment):
        """Raw weight of placing ``spec`` on ``host_state`` as ``assignment``."""
        raise NotImplementedError

    def estimate_terms(self, spec):
        return {}

    def preferred_hosts(self, spec, fleet):
        return ()

    def avoided_hosts(self, spec, fleet):
        return ()


def normalise(values):
    """Nova's weight normalisation: (w - min) / (max - min), 0.0 when all equal."""
    if not values:
        return []
    low, high = min(values), max(values)
    if high == low:
        return [0.0] * len(values)
    span = high - low
    return [(value - low) / span for value in values]
