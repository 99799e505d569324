"""Host-wide CPU and memory room: shared pCPUs x ratio, small pages x ratio.

Guests without NUMA topology are checked only here; NUMA guests are checked
here too (with their floating vCPUs and small-page memory) besides per cell,
so the two kinds never oversubscribe each other.
"""

from scheduler.fitting import reasons
from scheduler.fitting.reasons import Rejection


def vcpus_check(facts, usage, floating, largest, policy):
    """Host-wide room for ``floating`` vCPUs on the shared pCPUs (None if fine).

    ``largest`` is the most vCPUs one guest floats over the whole host set;
    it cannot exceed the shared pCPUs themselves, whatever the ratio.
    """
    if not floating:
        return None
    total = facts.shared_total
    if not total:
        return Rejection(reasons.HOST_NO_SHARED_CPUS,
                         f"no shared pCPUs for {floating} floating vCPUs", shortfall=floating)
    if largest > total:
        return Rejection(reasons.HOST_VCPUS, reasons.vcpu_limit_detail(largest, total),
                         shortfall=largest - total)
    room = int(total * policy.cpu_allocation_ratio) - usage.shared_vcpus
    if floating > room:
        return Rejection(reasons.HOST_VCPUS, reasons.vcpu_room_detail(
            floating, room, total, policy.cpu_allocation_ratio), shortfall=floating - room)
    return None


def ram_check(facts, usage, memory_mb, largest, policy):
    """Host-wide room for ``memory_mb`` of small pages (None if fine)."""
    if not memory_mb:
        return None
    total = facts.small_total_mb
    if largest > total:
        return Rejection(reasons.HOST_RAM, f"{total} MiB of small-page memory in all, needs "
                         f"{largest}", shortfall=largest - total)
    room = int(total * policy.ram_allocation_ratio) - usage.small_memory_mb
    if memory_mb > room:
        return Rejection(reasons.HOST_RAM,
                         f"{max(0, room)} MiB of small-page memory free ({total} MiB x "
                         f"{policy.ram_allocation_ratio}), needs {memory_mb}",
                         shortfall=memory_mb - room)
    return None
