"""Which page size backs a guest cell's memory on one host cell.

* None, ``'small'`` or 4: small pages from what the hugepage pools and the
  host reserve leave (``cell.small_page_mb``), times ``ram_allocation_ratio``.
  Our difference from Nova: a small-page guest never eats hugepage memory.
* ``'large'``: a pool size that divides the memory and still has enough free
  pages, tried in the fit policy's ``large_page_order``: ``largest`` first
  (Nova), ``smallest`` first, or ``most_free`` (the size with the most free
  memory in the cell first, so the scarcer pool is kept for the guests that
  can use nothing else).
* ``'any'``: as ``'large'``, then small pages.
* an int KiB: exactly that pool; the memory must be a whole number of pages
  (1025 MiB does not fit 2 MiB pages).
Hugepage memory is never overcommitted.
"""

from scheduler.fitting import reasons
from scheduler.fitting.reasons import Rejection, page_label
from wire.request_spec import PAGE_ANY, PAGE_LARGE, PAGE_SMALL
from wire.topology import SMALL_PAGE_KB


def small_available_mb(cell, usage, ram_ratio, small_mb=None):
    """Small-page MiB the cell can still give (overcommit included)."""
    small_mb = cell.small_page_mb if small_mb is None else small_mb
    return int(small_mb * ram_ratio) - usage.small_mb_by_cell.get(cell.id, 0)


LARGE_PAGE_ORDERS = ('largest', 'smallest', 'most_free')


def choose(cell, usage, memory_mb, page_size, ram_ratio, order='largest'):
    """Return the page size in KiB for ``memory_mb`` on ``cell``, or a Rejection.

    ``order`` (policy.LARGE_PAGE_ORDERS): which hugepage size ``large`` and ``any`` try first.
    """
    if page_size is None or page_size == PAGE_SMALL or page_size == SMALL_PAGE_KB:
        return _small(cell, usage, memory_mb, ram_ratio)
    if page_size == PAGE_LARGE:
        return _large(cell, usage, memory_mb, order)
    if page_size == PAGE_ANY:
        chosen = _large(cell, usage, memory_mb, order)
        if not isinstance(chosen, Rejection):
            return chosen
        small = _small(cell, usage, memory_mb, ram_ratio)
        if not isinstance(small, Rejection) or chosen.reason == reasons.NUMA_CELL_NO_PAGE_SIZE:
            return small
        return chosen
    return _exact(cell, usage, memory_mb, int(page_size))


def _small(cell, usage, memory_mb, ram_ratio):
    small_mb = cell.small_page_mb
    if memory_mb > small_mb:
        return Rejection(reasons.NUMA_CELL_NO_MEMORY,
                         f"cell {cell.id}: {small_mb} MiB of small-page memory in "
                         f"all, needs {memory_mb}", cell=cell.id,
                         shortfall=memory_mb - small_mb)
    available = small_available_mb(cell, usage, ram_ratio, small_mb)
    if memory_mb > available:
        return Rejection(reasons.NUMA_CELL_NO_MEMORY,
                         f"cell {cell.id}: {max(0, available)} MiB of small-page memory free, "
                         f"needs {memory_mb}", cell=cell.id, shortfall=memory_mb - available)
    return SMALL_PAGE_KB


def _page_rank(cell, usage, size_kb, order):
    """Sort key of a hugepage size (smaller is tried first); ties: the larger size."""
    if order == 'smallest':
        return size_kb
    if order == 'most_free':
        return (-free_pages(cell, usage, size_kb) * size_kb, -size_kb)
    return -size_kb


def free_pages(cell, usage, size_kb):
    return cell.pages.get(size_kb, 0) - usage.pages_used(cell.id, size_kb)


def _large(cell, usage, memory_mb, order):
    sizes = sorted((size for size in cell.pages if size > SMALL_PAGE_KB),
                   key=lambda size: _page_rank(cell, usage, size, order))
    if not sizes:
        return Rejection(reasons.NUMA_CELL_NO_PAGE_SIZE,
                         f"cell {cell.id}: no hugepage pool, needs large pages", cell=cell.id)
    nearest = None
    for size_kb in sizes:
        chosen = _exact(cell, usage, memory_mb, size_kb)
        if not isinstance(chosen, Rejection):
            return chosen
        if nearest is None or chosen.reason == reasons.NUMA_CELL_NO_FREE_PAGES and (
                nearest.reason != reasons.NUMA_CELL_NO_FREE_PAGES):
            nearest = chosen
    return nearest


def _exact(cell, usage, memory_mb, size_kb):
    label = page_label(size_kb)
    if (memory_mb * 1024) % size_kb:
        return Rejection(reasons.PAGE_SIZE_NOT_DIVISOR,
                         f"{memory_mb} MiB is not a whole number of {label} pages",
                         cell=cell.id)
    if size_kb not in cell.pages:
        return Rejection(reasons.NUMA_CELL_NO_PAGE_SIZE,
                         f"cell {cell.id}: no {label} page pool", cell=cell.id)
    needed = memory_mb * 1024 // size_kb
    free = free_pages(cell, usage, size_kb)
    if needed > free:
        return Rejection(reasons.NUMA_CELL_NO_FREE_PAGES,
                         f"cell {cell.id}: {free} free {label} pages, needs {needed}",
                         cell=cell.id, shortfall=needed - free)
    return size_kb
