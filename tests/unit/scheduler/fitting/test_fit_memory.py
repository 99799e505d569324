"""Memory rules: small pages per cell with the RAM ratio, hugepage size choice, divisibility."""

import pytest

from scheduler.fitting import reasons
from scheduler.fitting.policy import FitPolicy
from scheduler.fitting.usage import HostUsage

from .builders import host, request
from .helpers import assigned, fill, place, rejected

G1, M2 = 1048576, 2048
# Per cell: 16 GiB, of which 4 GiB of 2M pages and 4 GiB of 1G pages: 8 GiB small.
MEM = host().cells(2, cores=4, threads=2, shared_cores=2, memory_mb=16384).pages(
    {M2: 2048, G1: 4}).build()
NO_POOLS = host().cells(2, cores=4, threads=2, shared_cores=2, memory_mb=16384).build()
ONLY_2M = host().cells(1, cores=4, shared_cores=2, memory_mb=16384).pages({M2: 1024}).build()


@pytest.mark.parametrize('topology, memory_mb, page_size, expected_kb', [
    (MEM, 4096, 'large', G1),          # largest first
    (MEM, 1536, 'large', M2),          # 1G does not divide 1536 MiB
    (MEM, 4096, 'any', G1),
    (NO_POOLS, 4096, 'any', 4),        # any falls back to small pages
    (MEM, 4096, None, 4),
    (MEM, 4096, 'small', 4),
    (MEM, 4096, 4, 4),
    (MEM, 4096, M2, M2),
    (MEM, 2048, G1, G1),
])
def test_page_size_choice(topology, memory_mb, page_size, expected_kb):
    result = assigned(topology, request(2, memory_mb).numa(1).pages(page_size).build())
    assert result.cells[0].page_size_kb == expected_kb


@pytest.mark.parametrize('topology, memory_mb, page_size, reason, detail', [
    (MEM, 1025, M2, reasons.PAGE_SIZE_NOT_DIVISOR,
     "1025 MiB is not a whole number of 2M pages"),               # Nova's example
    (MEM, 1025, 'large', reasons.PAGE_SIZE_NOT_DIVISOR,
     "1025 MiB is not a whole number of 1G pages"),
    (ONLY_2M, 1024, G1, reasons.NUMA_CELL_NO_PAGE_SIZE, "cell 0: no 1G page pool"),
    (NO_POOLS, 1024, 'large', reasons.NUMA_CELL_NO_PAGE_SIZE,
     "cell 0: no hugepage pool, needs large pages"),
    (MEM, 5120, G1, reasons.NUMA_CELL_NO_FREE_PAGES, "cell 0: 4 free 1G pages, needs 5"),
    (MEM, 8193, None, reasons.NUMA_CELL_NO_MEMORY,
     "cell 0: 8192 MiB of small-page memory in all, needs 8193"),
])
def test_memory_rejections(topology, memory_mb, page_size, reason, detail):
    result = rejected(topology, request(2, memory_mb).numa(1).pages(page_size).build())
    assert (result.reason, result.detail) == (reason, detail)


def test_large_falls_back_to_a_smaller_pool_when_the_largest_is_used_up():
    usage = HostUsage(pages_by_cell={0: {G1: 4}, 1: {G1: 4}})
    result = assigned(MEM, request(2, 2048).numa(1).pages('large').build(), usage)
    assert result.cells[0].page_size_kb == M2


def test_free_page_shortage_names_the_numbers():
    usage = HostUsage(pages_by_cell={0: {G1: 2}, 1: {G1: 3}})
    result = rejected(MEM, request(2, 4096).numa(1).pages(G1).build(), usage)
    assert result.reason == reasons.NUMA_CELL_NO_FREE_PAGES
    assert result.detail == "cell 0: 2 free 1G pages, needs 4"
    assert (result.cell, result.shortfall) == (0, 2)


def test_hugepages_are_never_overcommitted():
    spec = request(1, 4096).numa(1).pages(G1).build()
    _usage, results = fill(MEM, [spec] * 3)
    assert [getattr(r, 'reason', None) for r in results] == [
        None, None, reasons.NUMA_CELL_NO_FREE_PAGES]
    rejected(MEM, spec, _usage, FitPolicy(4.0, 10.0))


def test_small_page_guests_never_eat_hugepage_memory():
    _usage, results = fill(MEM, [request(1, 8192).numa(1).build()] * 3)
    assert [getattr(r, 'reason', None) for r in results][:2] == [None, None]
    assert results[2].reason in (reasons.HOST_RAM, reasons.NUMA_CELL_NO_MEMORY)
    assert _usage.pages_by_cell == {}
    # ... while the pools stay whole for hugepage guests
    assigned(MEM, request(1, 4096).numa(1).pages(G1).build(), _usage)


@pytest.mark.parametrize('ratio, reason', [(1.0, reasons.HOST_RAM), (1.5, None)])
def test_small_pages_overcommit_with_the_ram_ratio(ratio, reason):
    usage = HostUsage(small_mb_by_cell={0: 8192, 1: 8192})
    result = place(MEM, request(1, 4096).numa(1).build(), usage, FitPolicy(4.0, ratio))
    assert getattr(result, 'reason', None) == reason


def test_floating_guest_small_memory_is_checked_host_wide():
    usage = HostUsage(floating_memory_mb=12000, small_mb_by_cell={1: 4000})
    result = rejected(MEM, request(1, 1000).build(), usage)
    assert result.reason == reasons.HOST_RAM
    assert result.detail == (
        "384 MiB of small-page memory free (16384 MiB x 1.0), needs 1000")
    assert rejected(MEM, request(1, 16385).build()).detail == (
        "16384 MiB of small-page memory in all, needs 16385")


def test_any_page_size_falling_back_to_small_pages_is_checked_host_wide():
    # Found by hypothesis: 4 GiB cell, 1 GiB of it in 2M pages; floating guests hold
    # 1280 MiB of the 3 GiB of small pages. A 2 GiB 'any' guest finds too few 2M pages,
    # falls back to small pages, and 1280 + 2048 > 3072 must be refused.
    cell = host().cells(1, cores=2, shared_cores=2, memory_mb=4096).pages({M2: 512}).build()
    usage = HostUsage(floating_memory_mb=1280)
    result = rejected(cell, request(1, 2048).pages('any').build(), usage)
    assert result.reason == reasons.HOST_RAM
    assert result.detail == "1792 MiB of small-page memory free (3072 MiB x 1.0), needs 2048"
    assert assigned(cell, request(1, 1792).pages('any').build(), usage).cells[0].page_size_kb \
        == 4                                                # what fits still goes
    assert assigned(cell, request(1, 1024).pages('any').build(), usage).cells[0].page_size_kb \
        == M2                                               # hugepages first, unchanged


def test_reserved_memory_is_not_given_to_guests():
    reserved = host().cells(1, cores=2, shared_cores=2, memory_mb=4096).reserved(1024).build()
    assigned(reserved, request(1, 3072).numa(1).build())
    assert rejected(reserved, request(1, 3073).numa(1).build()).reason in (
        reasons.HOST_RAM, reasons.NUMA_CELL_NO_MEMORY)


def test_consumed_pages_are_counted_per_cell_and_size():
    usage, results = fill(MEM, [request(2, 2048).numa(2).pages(M2).build()])
    assert usage.pages_by_cell == {0: {M2: 512}, 1: {M2: 512}}
    assert usage.small_mb_by_cell == {}


@pytest.mark.parametrize('order, used_1g, page_size, expected_kb', [
    ('largest', 0, 'large', G1),
    ('smallest', 0, 'large', M2),
    ('smallest', 0, 'any', M2),
    ('most_free', 0, 'large', G1),       # 4 GiB free of each: the larger size
    ('most_free', 1, 'large', M2),       # 3 GiB of 1G pages against 4 GiB of 2M
    ('most_free', 1, 'any', M2),
])
def test_large_page_order_of_the_policy(order, used_1g, page_size, expected_kb):
    usage = HostUsage(pages_by_cell={0: {G1: used_1g}, 1: {G1: used_1g}})
    spec = request(2, 1024).numa(1).pages(page_size).build()
    result = assigned(MEM, spec, usage, FitPolicy(large_page_order=order))
    assert result.cells[0].page_size_kb == expected_kb


def test_an_unknown_large_page_order_is_refused():
    with pytest.raises(ValueError, match='large_page_order'):
        FitPolicy(large_page_order='biggest')
