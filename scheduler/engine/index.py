"""Candidate index: which hosts are worth an exact fit, best estimate first.

Three cheap pieces keep a decision from scanning the fleet:

1. static candidates: the verdicts of the static filters (enabled, traits,
   aggregates, secure boot) depend only on STATIC_FIELDS of topologies, so
   they are cached per request shape until one changes (``static_generation``);
2. an estimate order: hosts sorted by a linear pre-weight built from the
   weighers' ``estimate_terms`` over the host totals of each HostSummary,
   kept sorted as usage changes by moving only the hosts in the FleetView's
   change log; hosts of equal estimate come in the order of the engine's salt
   (``tie_order``; position order without one), so schedulers with salts of
   their own try different hosts first;
3. a necessary check per visited host on the same summary
   (``scheduler.fitting.necessary``, derived from the request's RequestNeeds)
   that never rejects a host the exact fit would accept
   (tests/unit/scheduler/engine/test_properties.py holds it to that).

The engine walks the order and runs the real filters and the exact fit only
on hosts that pass, until enough of them fit.
"""

import bisect
import zlib

ESTIMATE_FIELDS = ('free_ram_mb', 'free_shared_vcpus', 'free_pci', 'free_hugepage_mb')
_CACHE_LIMIT = 256


class StaticIndex:
    """Static-filter verdicts per request shape, and estimate scales, per fleet state."""

    def __init__(self):
        self._cache = {}

    def candidates(self, fleet, static_checks):
        """(positions passing every static check, or None when all pass; scales).

        ``static_checks`` is a tuple of (cache key, check) for the static
        filters that apply to the request; positions index ``fleet.hosts()``.
        """
        key = (fleet.uid, fleet.static_generation, tuple(k for k, _ in static_checks))
        entry = self._cache.get(key)
        if entry is None:
            hosts = fleet.hosts()
            positions = [i for i, state in enumerate(hosts)
                         if all(check(state) is None for _, check in static_checks)]
            passing = None if len(positions) == len(hosts) else frozenset(positions)
            entry = (passing, _scales(hosts))
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[key] = entry
        return entry


def _scales(hosts):
    """The largest value of each estimate field: weights become fleet-relative."""
    return {name: max([getattr(s.summary, name) for s in hosts] + [1]) or 1
            for name in ESTIMATE_FIELDS}


def estimate_coefficients(weighers, spec, scales):
    """Linear pre-weight coefficients per ESTIMATE_FIELDS entry."""
    totals = dict.fromkeys(ESTIMATE_FIELDS, 0.0)
    for weigher, multiplier in weighers:
        for name, coefficient in weigher.estimate_terms(spec).items():
            totals[name] += multiplier * coefficient / scales[name]
    return tuple(totals[name] for name in ESTIMATE_FIELDS)


def estimate(summary, coefficients):
    """The cheap pre-weight of one host (bigger is better)."""
    ram, cpu, pci, pages = coefficients
    return (ram * summary.free_ram_mb + cpu * summary.free_shared_vcpus
            + pci * summary.free_pci + pages * summary.free_hugepage_mb)


class EstimateOrder:
    """Hosts sorted best estimate first, kept sorted as usage changes.

    Built once per (fleet state, coefficients); afterwards only the hosts in
    the fleet's change log are moved (bisect), so a request does not rescan
    the fleet.  Entries are (-estimate, tie, position): ``tie`` orders hosts of
    equal estimate (``tie_order`` with the engine's salt).
    """

    def __init__(self, fleet, coefficients, salt=None):
        self.coefficients = coefficients
        self.salt = salt
        hosts = fleet.hosts()
        self.keys = [self._key(s, i) for i, s in enumerate(hosts)]
        self.entries = sorted(self.keys)
        self.epoch, self.seen = fleet.change_epoch, len(fleet.change_log)

    def sync(self, fleet):
        """Catch up with the fleet's change log; False when a rebuild is needed."""
        if fleet.change_epoch != self.epoch:
            return False
        log = fleet.change_log
        if self.seen == len(log):
            return True
        hosts = fleet.hosts()
        for name in set(log[self.seen:]):
            position = fleet.position(name)
            old = self.keys[position]
            new = self._key(hosts[position], position)
            if new != old:
                del self.entries[bisect.bisect_left(self.entries, old)]
                bisect.insort(self.entries, new)
                self.keys[position] = new
        self.seen = len(log)
        return True

    def _key(self, state, position):
        return (-estimate(state.summary, self.coefficients), tie_order(state.name, self.salt),
                position)


def tie_order(name, salt):
    """Where host ``name`` comes among hosts of equal weight: 0 for every host
    without a salt (then name or position decides), else a number the salt
    scrambles, the same for a name as long as the salt is."""
    return 0 if salt is None else zlib.crc32(name.encode(), salt)


class OrderIndex:
    """EstimateOrder per (fleet, static generation, coefficients)."""

    def __init__(self):
        self._orders = {}

    def order(self, fleet, coefficients, salt=None):
        """The EstimateOrder of ``fleet`` for ``coefficients``, caught up with its changes."""
        key = (fleet.uid, fleet.static_generation, coefficients, salt)
        order = self._orders.get(key)
        if order is None or not order.sync(fleet):
            if len(self._orders) >= _CACHE_LIMIT:
                self._orders.clear()
            order = self._orders[key] = EstimateOrder(fleet, coefficients, salt)
        return order
