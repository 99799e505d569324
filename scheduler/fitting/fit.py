"""The fit: one request on one host -> an exact Assignment or a named Rejection.

Pure: no I/O, no configuration reads, inputs never mutated (the policy is
passed in).  Authoritative and complete for resources - CPU (pinned and
floating with the allocation ratio), memory per cell and page size, PCI
devices and VFs, SEV slots - so the claim can call it again under its lock.
Non-resource checks (enabled, traits, aggregates, secure boot, server
groups) are filters, not this.
"""

from scheduler.fitting import cells, hostwide, pci, reasons
from scheduler.fitting.facts import facts_of
from scheduler.fitting.reasons import Rejection
from wire import sev
from wire.assignment import Assignment
from wire.request_spec import EMULATOR_ISOLATE, PAGE_SMALL
from wire.topology import SMALL_PAGE_KB

_SPEC_MEMO_LIMIT = 256
_spec_memo = {}


def fit(host, usage, spec, policy, instance):
    """Fit ``spec`` on ``host`` given ``usage``: an Assignment or a Rejection."""
    result = _fit(host, usage, spec, policy, instance)
    if isinstance(result, Rejection):
        return result.on_host(host.name)
    return result


def _fit(host, usage, spec, policy, instance):
    model = sev.spec_model(spec)
    if model and not sev.supported(host, model):
        return Rejection(reasons.SEV_SNP_UNSUPPORTED, sev.unsupported(host, model), shortfall=1)
    shortage = model and sev.shortage(sev.used(usage, model), host, model)
    if shortage:
        return Rejection(reasons.SEV_NO_SLOTS, shortage, shortfall=1)
    facts = facts_of(host)
    needs, devices = _spec_needs(spec)
    if not needs:
        return _fit_floating(host, facts, usage, spec, policy, instance, devices)
    return _fit_numa(host, facts, usage, spec, policy, instance, needs, devices)


def _spec_needs(spec):
    """(guest cell needs, device needs) of ``spec``, memoised by identity: the
    engine fits one spec on many hosts."""
    entry = _spec_memo.get(id(spec))
    if entry is not None and entry[0] is spec:
        return entry[1]
    derived = (cells.guest_cell_needs(spec), pci.device_needs(spec))
    if len(_spec_memo) >= _SPEC_MEMO_LIMIT:
        _spec_memo.clear()
    _spec_memo[id(spec)] = (spec, derived)
    return derived


def _fit_floating(host, facts, usage, spec, policy, instance, devices):
    """A guest without NUMA topology floats over every shared pCPU of the host."""
    rejection = (hostwide.vcpus_check(facts, usage, spec.vcpus, spec.vcpus, policy)
                 or hostwide.ram_check(facts, usage, spec.memory_mb, spec.memory_mb, policy))
    if rejection:
        return rejection
    chosen = pci.allocate(facts, usage, devices) if devices else ()
    if isinstance(chosen, Rejection):
        return chosen
    return Assignment(host=host.name, instance=instance, vcpus=spec.vcpus,
                      memory_mb=spec.memory_mb, shared_cpus=facts.shared_union,
                      emulator_pcpus=facts.shared_union, pci_devices=chosen,
                      **_sev_fields(spec))


def _fit_numa(host, facts, usage, spec, policy, instance, needs, devices):
    floating = sum(len(need.floating) for need in needs)
    small = spec.page_size in (None, PAGE_SMALL, SMALL_PAGE_KB)
    small_mb = sum(need.cell.memory_mb for need in needs) if small else 0
    biggest_cell_mb = max(need.cell.memory_mb for need in needs) if small else 0
    rejection = (hostwide.vcpus_check(facts, usage, floating, 0, policy)
                 or hostwide.ram_check(facts, usage, small_mb, biggest_cell_mb, policy))
    if rejection:
        return rejection

    def accept(fits, relaxed=False):
        if not devices:
            return ()
        host_cells = frozenset(f.assignment.host_cell for f in fits)
        return pci.allocate(facts, usage, devices, host_cells, relaxed)

    affine = _cells_with_devices(facts, devices) if devices else frozenset()
    placed = cells.place(host, facts, usage, needs, spec, policy, accept, affine)
    if isinstance(placed, Rejection) and pci.has_preferred(devices) and (
            placed.reason in (reasons.PCI_NUMA_AFFINITY, reasons.PCI_NO_DEVICE,
                              reasons.PCI_IOMMU_GROUP)):
        placed = cells.place(host, facts, usage, needs, spec, policy,
                             lambda fits: accept(fits, relaxed=True), affine)
    if isinstance(placed, Rejection):
        return placed
    fits, chosen = placed
    if not small:    # the cells chose page sizes ('any' may fall back to small pages)
        rejection = _chosen_small_pages_check(facts, usage, fits, policy)
        if rejection:
            return rejection
    return _numa_assignment(host, spec, instance, fits, chosen)


def _chosen_small_pages_check(facts, usage, fits, policy):
    """Host-wide room for the small-page memory of cells that chose small pages."""
    chosen = [f.assignment.memory_mb for f in fits if f.assignment.page_size_kb == SMALL_PAGE_KB]
    if not chosen:
        return None
    return hostwide.ram_check(facts, usage, sum(chosen), max(chosen), policy)


def _numa_assignment(host, spec, instance, fits, chosen):
    cell_assignments = tuple(f.assignment for f in fits)
    shared = frozenset().union(*(c.shared_cpus for c in cell_assignments))
    if spec.emulator_threads_policy == EMULATOR_ISOLATE:
        emulator = frozenset().union(*(f.emulator_pcpus for f in fits))
    elif shared:
        emulator = shared
    else:     # share, no shared pCPUs: with the vCPUs, holding nothing more
        emulator = frozenset(p for c in cell_assignments for p in c.pinning.values())
    return Assignment(host=host.name, instance=instance, vcpus=spec.vcpus,
                      memory_mb=spec.memory_mb, cells=cell_assignments, shared_cpus=shared,
                      emulator_pcpus=emulator, pci_devices=chosen, **_sev_fields(spec))


def _sev_fields(spec):
    return sev.assignment_fields(sev.spec_model(spec))


def _cells_with_devices(facts, devices):
    return frozenset(d.numa_node for need in devices for d in pci.candidates_for(facts, need)
                     if d.numa_node is not None)
