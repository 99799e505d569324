"""RAM, vCPU, NUMA, PCI, SEV: O(1) summary prechecks, each with its own reasons."""

import pytest

from scheduler.engine.fleet import make_state
from scheduler.filters.numa import NumaFilter
from scheduler.filters.pci import PciFilter
from scheduler.filters.ram import RamFilter
from scheduler.filters.sev import SevFilter
from scheduler.filters.vcpu import VcpuFilter
from scheduler.fitting import reasons
from scheduler.fitting.policy import FitPolicy
from scheduler.fitting.usage import HostUsage
from tests.unit.scheduler.helpers import host, request, state_of

SMALL_HOST = host('h').cells(1, cores=2, threads=2, shared_cores=1, memory_mb=4096).build()
ALL = (RamFilter, VcpuFilter, NumaFilter, PciFilter, SevFilter)


@pytest.mark.parametrize('spec, owner, reason, words', [
    (request(1, 8192).build(), RamFilter, reasons.HOST_RAM, 'needs 8192'),
    (request(64, 512).build(), VcpuFilter, reasons.HOST_VCPUS, 'guest has 64 floating vCPUs'),
    (request(8, 1024).numa(1).dedicated().build(), NumaFilter,
     reasons.NUMA_CELL_NO_FREE_PCPUS, 'needs 8'),
    (request(2, 1024).numa(1).pages(1048576).build(), NumaFilter,
     reasons.NUMA_CELL_NO_PAGE_SIZE, 'cell 0'),
    (request(2, 1024).port('physnet9').build(), PciFilter, reasons.PCI_NO_DEVICE, 'needs 1'),
    (request(2, 1024).sev().build(), SevFilter, reasons.SEV_NO_SLOTS, 'SEV'),
])
def test_only_the_owner_rejects(spec, owner, reason, words):
    state = state_of(SMALL_HOST)
    for plugin_class in ALL:
        verdict = plugin_class(FitPolicy()).host_passes(state, spec)
        if plugin_class is owner:
            assert verdict.reason == reason and verdict.host == 'h'
            assert words in verdict.detail
        else:
            assert verdict is None, plugin_class


def test_ratio_comes_from_the_policy():
    spec = request(2, 512).build()         # 6 floating vCPUs already on 2 shared pCPUs
    state = make_state(SMALL_HOST, HostUsage(floating_vcpus=6), {})
    assert VcpuFilter(FitPolicy(cpu_allocation_ratio=4.0)).host_passes(state, spec) is None
    assert VcpuFilter(FitPolicy(cpu_allocation_ratio=1.0)).host_passes(state, spec).reason == (
        reasons.HOST_VCPUS)


def test_a_fitting_request_passes_every_resource_filter():
    spec = request(2, 1024).numa(1).dedicated().build()
    state = state_of(SMALL_HOST)
    assert all(cls(FitPolicy()).host_passes(state, spec) is None for cls in ALL)
