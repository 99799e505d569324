"""FitPolicy values, Rejection formatting, page labels, bounded cell search."""

import time

import pytest

from scheduler.fitting import reasons
from scheduler.fitting.policy import FitPolicy
from scheduler.fitting.reasons import Rejection, page_label
from scheduler.fitting.usage import HostUsage

from .builders import host, request
from .helpers import assigned, rejected


def test_policy_defaults_are_novas():
    assert FitPolicy() == FitPolicy(cpu_allocation_ratio=4.0, ram_allocation_ratio=1.0)


@pytest.mark.parametrize('cpu, ram', [(0, 1.0), (4.0, -1), (True, 1.0), ('4', 1.0)])
def test_policy_rejects_bad_ratios(cpu, ram):
    with pytest.raises(ValueError, match='allocation ratio'):
        FitPolicy(cpu, ram)


def test_policy_is_frozen():
    with pytest.raises(AttributeError):
        FitPolicy().cpu_allocation_ratio = 2.0


@pytest.mark.parametrize('size_kb, label', [(4, '4K'), (2048, '2M'), (1048576, '1G'),
                                            (64, '64K'), (16 * 1048576, '16G')])
def test_page_label(size_kb, label):
    assert page_label(size_kb) == label


def test_rejection_names_its_host():
    rejection = Rejection(reasons.NUMA_CELL_NO_FREE_PAGES, 'cell 1: 2 free 1G pages, needs 4',
                          cell=1, shortfall=2)
    assert str(rejection) == 'cell 1: 2 free 1G pages, needs 4'
    named = rejection.on_host('host-0042')
    assert str(named) == 'host-0042: cell 1: 2 free 1G pages, needs 4'
    assert (named.cell, named.shortfall, rejection.host) == (1, 2, None)


def test_every_reason_constant_is_listed():
    constants = {value for name, value in vars(reasons).items()
                 if name.isupper() and isinstance(value, str)}
    assert constants == set(reasons.RESOURCE_REASONS)


MANY = host().cells(8, cores=2, shared_cores=1).build()


def test_cell_search_stays_bounded_on_many_cells():
    # Only 5 of 8 host cells have free pCPUs: 6 pinned guest cells cannot be placed,
    # and proving it must not walk all 8!/2! maps.
    busy = HostUsage(pinned=frozenset().union(*(c.cpus for c in MANY.cells[5:])))
    spec = request(6, 6144).numa(6).dedicated().build()
    started = time.perf_counter()
    result = rejected(MANY, spec, busy)
    assert time.perf_counter() - started < 0.5
    assert result.reason == reasons.NOT_ENOUGH_CELLS
    assert result.detail == "guest's 6 NUMA cells fit only host cells [0, 1, 2, 3, 4], not " \
                            "each on its own cell"


def test_eight_guest_cells_on_eight_host_cells():
    result = assigned(MANY, request(16, 8192).numa(8).dedicated().build())
    assert sorted(c.host_cell for c in result.cells) == list(range(8))
