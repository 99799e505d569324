"""The engine index's necessary condition: one predicate on a HostSummary's host totals.

Built once per request from its RequestNeeds; the engine runs it on every host it walks,
before any filter, so it reads only host totals (free pCPUs, the largest cell's free
pCPUs, floating vCPU room, memory of the asked page size, devices per table, SEV slots).
It is false only when ``RequestNeeds.quick_reject`` would reject too, so it never rejects
a host the exact fit accepts (tests/unit/scheduler/engine/test_properties.py).
"""

from wire import sev
from wire.request_spec import PAGE_ANY, PAGE_LARGE, PAGE_SMALL
from wire.topology import SMALL_PAGE_KB


def memory_check(needs):
    """A predicate on a HostSummary for the memory need, by page size."""
    memory, ratio, size = needs.memory_mb, needs.ram_ratio, needs.page_size
    if size in (None, PAGE_SMALL, SMALL_PAGE_KB):
        return lambda s: s.small_total_mb * ratio - s.small_used_mb >= memory
    if size == PAGE_LARGE:
        return lambda s: s.free_hugepage_mb >= memory
    if size == PAGE_ANY:
        return lambda s: s.free_hugepage_mb + s.small_total_mb * ratio - s.small_used_mb >= memory
    return lambda s: s.free_pages.get(size, 0) * size >= memory * 1024


def device_checks(needs):
    """Predicates on a HostSummary for PCI devices, VFs, PFs and SEV slots."""
    checks = [lambda s, t=table, k=key, n=count: getattr(s, t).get(k, 0) >= n
              for table, key, count, _unit in needs.devices]
    if needs.any_vfs:
        checks.append(lambda s, n=needs.any_vfs: s.free_vf_total >= n)
    if needs.sev:
        es_pool, snp = sev.pool(needs.sev) == sev.SEV_ES, needs.sev == sev.SEV_SNP
        checks.append(lambda s: (s.sev_es_free if es_pool else s.sev_free) >= 1
                      and (s.sev_snp or not snp))
    return checks


def necessary_check(needs):
    """One predicate on HostSummary: False only when the host surely cannot fit."""
    total, per_cell, floating = needs.pinned_total, needs.pinned_max_cell, needs.floating
    ratio = needs.cpu_ratio
    memory_ok, devices = memory_check(needs), device_checks(needs)

    def check(s):
        if s.free_pcpus < total or s.free_pcpus_max_cell < per_cell:
            return False
        if floating and s.shared_total * ratio - s.shared_used < floating:
            return False
        if not memory_ok(s):
            return False
        for device_ok in devices:
            if not device_ok(s):
                return False
        return True
    return check
