"""The per-cell capacity checks, written once over plain numbers.

The exact fit asks them of a host cell under its usage (``cells``, ``pages``), the
quick reject of a CellSummary (``summary``), so both judge a cell by the same
arithmetic; each turns a miss into its own Rejection.  A miss is ``(reason, need,
have)``: what the guest cell needs and what the host cell has against it.
"""

from scheduler.fitting import reasons
from wire.request_spec import PAGE_ANY, PAGE_LARGE, PAGE_SMALL
from wire.topology import SMALL_PAGE_KB


def floating_miss(floating, shared_cpus, used_vcpus, cpu_ratio):
    """Floating vCPUs of a guest cell on a host cell's shared pCPUs.

    None, or (reason, need, have, ratio): ``ratio`` is None when ``have`` is the
    shared pCPUs themselves (a guest cell never floats on fewer pCPUs than its
    vCPUs), the allocation ratio when ``have`` is the room left under it.
    """
    if not shared_cpus:
        return reasons.NUMA_CELL_NO_SHARED_CPUS, floating, 0, None
    if floating > shared_cpus:
        return reasons.NUMA_CELL_SHARED_VCPUS, floating, shared_cpus, None
    room = int(shared_cpus * cpu_ratio) - used_vcpus
    if floating > room:
        return reasons.NUMA_CELL_SHARED_VCPUS, floating, room, cpu_ratio
    return None


def is_small(page_size):
    """True when ``page_size`` (a request's) asks for small pages."""
    return page_size is None or page_size == PAGE_SMALL or page_size == SMALL_PAGE_KB


def choose_page(memory_mb, page_size, small, large_sizes, free_of):
    """The page size (KiB) that backs ``memory_mb`` on one host cell, or its miss.

    ``small`` is (small-page MiB of the cell, MiB used, ram allocation ratio);
    ``large_sizes`` the cell's hugepage sizes in the order to try (may be left empty
    for a small-page request); ``free_of(size)``
    the free pages of that pool (None without it).  A miss is (reason, need, have,
    unit): ``unit`` is the page label, or for small pages 'in all' (the cell has not
    that much small-page memory at all) or 'free'.
    """
    if is_small(page_size):
        return _small(memory_mb, *small)
    if page_size == PAGE_LARGE:
        return _large(memory_mb, large_sizes, free_of)
    if page_size == PAGE_ANY:
        large = _large(memory_mb, large_sizes, free_of)
        if isinstance(large, int):
            return large
        chosen = _small(memory_mb, *small)
        if isinstance(chosen, int) or large[0] == reasons.NUMA_CELL_NO_PAGE_SIZE:
            return chosen
        return large
    return _pages(memory_mb, int(page_size), free_of(int(page_size)))


def _small(memory_mb, small_mb, used_mb, ram_ratio):
    if memory_mb > small_mb:
        return reasons.NUMA_CELL_NO_MEMORY, memory_mb, small_mb, 'in all'
    room = int(small_mb * ram_ratio) - used_mb
    if memory_mb > room:
        return reasons.NUMA_CELL_NO_MEMORY, memory_mb, room, 'free'
    return SMALL_PAGE_KB


def _large(memory_mb, sizes, free_of):
    if not sizes:
        return reasons.NUMA_CELL_NO_PAGE_SIZE, 1, 0, 'large'
    nearest = None
    for size_kb in sizes:
        chosen = _pages(memory_mb, size_kb, free_of(size_kb))
        if isinstance(chosen, int):
            return chosen
        if nearest is None or (chosen[0] == reasons.NUMA_CELL_NO_FREE_PAGES
                               and nearest[0] != reasons.NUMA_CELL_NO_FREE_PAGES):
            nearest = chosen
    return nearest


def _pages(memory_mb, size_kb, free):
    label = reasons.page_label(size_kb)
    if (memory_mb * 1024) % size_kb:
        return reasons.PAGE_SIZE_NOT_DIVISOR, memory_mb, 0, label
    if free is None:
        return reasons.NUMA_CELL_NO_PAGE_SIZE, 1, 0, label
    needed = memory_mb * 1024 // size_kb
    if needed > free:
        return reasons.NUMA_CELL_NO_FREE_PAGES, needed, free, label
    return size_kb
