"""Candidate index: which hosts are worth an exact fit, best estimate first.

Three cheap pieces keep a decision from scanning the fleet:

1. static candidates: the verdicts of the static filters (enabled, traits,
   aggregates, secure boot) depend only on STATIC_FIELDS of topologies, so
   they are cached per request shape until one changes (``static_generation``);
2. an estimate order: hosts sorted by a linear pre-weight built from the
   weighers' ``estimate_terms`` over HostCapacity numbers, kept sorted as
   usage changes by moving only the hosts in the FleetView's change log;
3. a necessary check per visited host (free pCPUs, shared vCPU room, memory
   of the asked page size, VFs per physnet, matching PCI devices, SEV slots)
   that never rejects a host the exact fit would accept
   (tests/unit/scheduler/engine/test_properties.py holds it to that).

The engine walks the order and runs the real filters and the exact fit only
on hosts that pass, until enough of them fit.
"""

import bisect
import dataclasses

from wire import sev
from wire.request_spec import PAGE_ANY, PAGE_LARGE, PAGE_SMALL

ESTIMATE_FIELDS = ('free_ram_mb', 'free_shared_vcpus', 'free_pci', 'free_hugepage_mb')
_CACHE_LIMIT = 256


@dataclasses.dataclass(frozen=True, slots=True)
class Demand:
    """The request's minimum needs in HostCapacity units (necessary, not sufficient)."""

    pinned_total: int
    pinned_max_cell: int
    floating_vcpus: int
    memory_mb: int
    page_size: object
    vfs_by_physnet: tuple     # ((physnet or None, count), ...)
    pci_by_product: tuple     # (((vendor, product), count), ...)
    sev: str | None          # memory encryption model (wire.sev), None without


def demand_of(spec):
    """Derive the Demand of ``spec`` once per request."""
    pinned = spec.dedicated_vcpus
    per_cell = [len(pinned.intersection(cell.vcpus)) for cell in spec.numa_cells]
    vfs = {}
    for port in spec.ports:
        if port.vnic_type == 'direct':
            vfs[port.physical_network] = vfs.get(port.physical_network, 0) + 1
    products = {}
    for request in spec.pci_requests:
        if request.vendor_id and request.product_id:    # otherwise any device may match
            key = (request.vendor_id.lower(), request.product_id.lower())
            products[key] = products.get(key, 0) + request.count
    return Demand(
        pinned_total=len(pinned), pinned_max_cell=max(per_cell, default=0),
        floating_vcpus=spec.vcpus - len(pinned), memory_mb=spec.memory_mb,
        page_size=spec.page_size, vfs_by_physnet=tuple(vfs.items()),
        pci_by_product=tuple(products.items()), sev=sev.spec_model(spec))


def memory_check(demand, policy):
    """A per-capacity predicate for the memory need, by page size."""
    memory, ratio, size = demand.memory_mb, policy.ram_allocation_ratio, demand.page_size
    if size in (None, PAGE_SMALL, 4):
        return lambda c: c.small_mb * ratio - c.small_mb_used >= memory
    if size == PAGE_LARGE:
        return lambda c: c.free_hugepage_mb >= memory
    if size == PAGE_ANY:
        return lambda c: c.free_hugepage_mb + c.small_mb * ratio - c.small_mb_used >= memory
    return lambda c: c.free_pages.get(size, 0) * size >= memory * 1024


def device_checks(demand):
    """Per-capacity predicates for VFs, PCI devices and SEV."""
    checks = []
    for physnet, count in demand.vfs_by_physnet:
        if physnet is None:
            checks.append(lambda c, n=count: c.free_vfs >= n)
        else:
            checks.append(lambda c, p=physnet, n=count: c.free_vfs_by_physnet.get(p, 0) >= n)
    for product, count in demand.pci_by_product:
        checks.append(lambda c, k=product, n=count: c.free_pci_by_product.get(k, 0) >= n)
    if demand.sev == sev.SEV_ES:
        checks.append(lambda c: c.sev_es_free >= 1)
    elif demand.sev:
        checks.append(lambda c: c.sev_free >= 1)
    return checks


def necessary_check(demand, policy):
    """One predicate on HostCapacity: False only when the host surely cannot fit."""
    total, per_cell, floating = demand.pinned_total, demand.pinned_max_cell, demand.floating_vcpus
    ratio = policy.cpu_allocation_ratio
    memory_ok, devices = memory_check(demand, policy), device_checks(demand)

    def check(c):
        if c.free_pcpus < total or c.free_pcpus_max_cell < per_cell:
            return False
        if floating and c.shared_cpus * ratio - c.shared_vcpus_used < floating:
            return False
        if not memory_ok(c):
            return False
        for device_ok in devices:
            if not device_ok(c):
                return False
        return True
    return check


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
    return {name: max([getattr(s.capacity, name) for s in hosts] + [1]) or 1
            for name in ESTIMATE_FIELDS}


def estimate_coefficients(weighers, spec, scales):
    """Linear pre-weight coefficients per ESTIMATE_FIELDS entry."""
    totals = dict.fromkeys(ESTIMATE_FIELDS, 0.0)
    for weigher, multiplier in weighers:
        for name, coefficient in weigher.estimate_terms(spec).items():
            totals[name] += multiplier * coefficient / scales[name]
    return tuple(totals[name] for name in ESTIMATE_FIELDS)


def estimate(capacity, coefficients):
    """The cheap pre-weight of one host (bigger is better)."""
    ram, cpu, pci, pages = coefficients
    return (ram * capacity.free_ram_mb + cpu * capacity.free_shared_vcpus
            + pci * capacity.free_pci + pages * capacity.free_hugepage_mb)


class EstimateOrder:
    """Hosts sorted best estimate first, kept sorted as usage changes.

    Built once per (fleet state, coefficients); afterwards only the hosts in
    the fleet's change log are moved (bisect), so a request does not rescan
    the fleet.  Entries are (-estimate, position).
    """

    def __init__(self, fleet, coefficients):
        self.coefficients = coefficients
        hosts = fleet.hosts()
        self.keys = [(-estimate(s.capacity, coefficients), i) for i, s in enumerate(hosts)]
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
            new = (-estimate(hosts[position].capacity, self.coefficients), position)
            if new != old:
                del self.entries[bisect.bisect_left(self.entries, old)]
                bisect.insort(self.entries, new)
                self.keys[position] = new
        self.seen = len(log)
        return True


class OrderIndex:
    """EstimateOrder per (fleet, static generation, coefficients)."""

    def __init__(self):
        self._orders = {}

    def order(self, fleet, coefficients):
        """The EstimateOrder of ``fleet`` for ``coefficients``, caught up with its changes."""
        key = (fleet.uid, fleet.static_generation, coefficients)
        order = self._orders.get(key)
        if order is None or not order.sync(fleet):
            if len(self._orders) >= _CACHE_LIMIT:
                self._orders.clear()
            order = self._orders[key] = EstimateOrder(fleet, coefficients)
        return order
