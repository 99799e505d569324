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

from scheduler.fitting import cell_checks, reasons
from scheduler.fitting.reasons import Rejection
from wire.topology import SMALL_PAGE_KB


def small_available_mb(cell, usage, ram_ratio, small_mb=None):
    """Small-page MiB the cell can still give (overcommit included)."""
    small_mb = cell.small_page_mb if small_mb is None else small_mb
    return int(small_mb * ram_ratio) - usage.small_mb_by_cell.get(cell.id, 0)


LARGE_PAGE_ORDERS = ('largest', 'smallest', 'most_free')


def choose(cell, usage, memory_mb, page_size, ram_ratio, order='largest'):
    """Return the page size in KiB for ``memory_mb`` on ``cell``, or a Rejection.

    ``order`` (policy.LARGE_PAGE_ORDERS): which hugepage size ``large`` and ``any`` try first.
    The checks are ``cell_checks.choose_page``'s, which the quick reject shares.
    """
    sizes = () if cell_checks.is_small(page_size) else sorted(
        (size for size in cell.pages if size > SMALL_PAGE_KB),
        key=lambda size: _page_rank(cell, usage, size, order))
    chosen = cell_checks.choose_page(
        memory_mb, page_size, (cell.small_page_mb, usage.small_mb_by_cell.get(cell.id, 0),
                               ram_ratio), sizes,
        lambda size_kb: free_pages(cell, usage, size_kb) if size_kb in cell.pages else None)
    return chosen if isinstance(chosen, int) else _rejection(cell, memory_mb, chosen)


def _rejection(cell, memory_mb, miss):
    reason, need, have, unit = miss
    if reason == reasons.NUMA_CELL_NO_MEMORY:
        amount = have if unit == 'in all' else max(0, have)
        return Rejection(reason, f"cell {cell.id}: {amount} MiB of small-page memory {unit}, "
                                 f"needs {need}", cell=cell.id, shortfall=need - have)
    if reason == reasons.PAGE_SIZE_NOT_DIVISOR:
        return Rejection(reason, f"{memory_mb} MiB is not a whole number of {unit} pages",
                         cell=cell.id)
    if reason == reasons.NUMA_CELL_NO_PAGE_SIZE:
        detail = (f"cell {cell.id}: no hugepage pool, needs large pages" if unit == 'large'
                  else f"cell {cell.id}: no {unit} page pool")
        return Rejection(reason, detail, cell=cell.id)
    return Rejection(reason, f"cell {cell.id}: {have} free {unit} pages, needs {need}",
                     cell=cell.id, shortfall=need - have)


def _page_rank(cell, usage, size_kb, order):
    """Sort key of a hugepage size (smaller is tried first); ties: the larger size."""
    if order == 'smallest':
        return size_kb
    if order == 'most_free':
        return (-free_pages(cell, usage, size_kb) * size_kb, -size_kb)
    return -size_kb


def free_pages(cell, usage, size_kb):
    return cell.pages.get(size_kb, 0) - usage.pages_used(cell.id, size_kb)
