"""HostSummary / RequestNeeds: cheap pre-fit rejection with the fit's own numbers."""

import pytest

from scheduler.fitting import reasons
from scheduler.fitting.policy import FitPolicy
from scheduler.fitting.summary import HostSummary, RequestNeeds
from scheduler.fitting.usage import HostUsage

from .builders import host, request
from .helpers import place

G1, M2 = 1048576, 2048
PF0 = '0000:01:00.0'
TOPOLOGY = (host().cells(2, cores=4, threads=2, shared_cores=1, memory_mb=16384)
            .pages({M2: 1024, G1: 4}).pf(PF0, 0, 'physnet1', vfs=3)
            .device('0000:05:00.0', numa_node=1).sev(1).build())


def summary(usage=None):
    return HostSummary.of(TOPOLOGY, usage or HostUsage())


def test_summary_counts_what_is_free():
    usage = HostUsage(pinned=frozenset({0, 10, 1}), pages_by_cell={1: {G1: 3}},
                      pci_used=frozenset({f"{PF0}.v0"}), sev_used=1,
                      shared_vcpus_by_cell={0: 2}, small_mb_by_cell={0: 100})
    result = summary(usage)
    cell0, cell1 = result.cells
    assert (cell0.free_pcpus, cell0.whole_free_cores, cell0.whole_free_smt_threads) == (5, 2, 4)
    assert (cell1.free_pcpus, cell1.whole_free_cores, cell1.smt) == (8, 4, True)
    assert cell1.free_pages == {M2: 1024, G1: 1}
    assert (cell0.shared_cpus, cell0.shared_vcpus_used, cell0.small_used_mb) == (2, 2, 100)
    assert cell0.small_mb == 16384 - 2048 - 4096
    assert result.sev_free == 0
    # the PF is not free while one of its VFs is used
    assert result.free_devices == {('8086', '154c'): 2, ('10de', '1db4'): 1}
    assert result.free_vfs == {'physnet1': 2} and result.free_pfs == {}


@pytest.mark.parametrize('spec, usage, reason, detail', [
    (request(1, 512).sev().build(), HostUsage(sev_used=1), reasons.SEV_NO_SLOTS,
     "0 free SEV slots, needs 1"),
    (request(5, 512).build(), HostUsage(), reasons.HOST_VCPUS,
     "4 shared pCPUs, guest has 5 floating vCPUs"),
    (request(3, 512).build(), HostUsage(floating_vcpus=14), reasons.HOST_VCPUS,
     "room for 2 more floating vCPUs (4 shared pCPUs x 4.0), needs 3"),
    (request(2, 512).numa(1).build(), HostUsage(shared_vcpus_by_cell={0: 7, 1: 7}),
     reasons.NUMA_CELL_SHARED_VCPUS,
     "cell 0: room for 1 more floating vCPUs (2 shared pCPUs x 4.0), needs 2"),
    (request(3, 512).numa(1).build(), HostUsage(), reasons.NUMA_CELL_SHARED_VCPUS,
     "cell 0: 2 shared pCPUs, guest cell has 3 floating vCPUs"),
    (request(2, 1024).numa(3).build(), HostUsage(), reasons.NOT_ENOUGH_CELLS,
     "2 host cells can each take a guest cell, guest has 3"),
    (request(17, 1024).dedicated().build(), HostUsage(), reasons.NUMA_CELL_NO_FREE_PCPUS,
     "16 free dedicated pCPUs on the host, needs 17"),
    (request(9, 1024).dedicated().build(), HostUsage(), reasons.NUMA_CELL_NO_FREE_PCPUS,
     "cell 0: 8 free dedicated pCPUs, needs 9"),
    (request(2, 4096).numa(1).pages(G1).build(), HostUsage(pages_by_cell={0: {G1: 2},
                                                                          1: {G1: 3}}),
     reasons.NUMA_CELL_NO_FREE_PAGES, "cell 0: 2 free 1G pages, needs 4"),
    (request(2, 1025).numa(1).pages(M2).build(), HostUsage(), reasons.PAGE_SIZE_NOT_DIVISOR,
     "1025 MiB is not a whole number of 2M pages"),
    (request(2, 1024).dedicated().thread('isolate').build(),
     HostUsage(pinned=frozenset({0, 1, 2, 5, 6, 7})), reasons.NUMA_CELL_NO_FREE_CORES,
     "cell 0: 1 wholly free cores, needs 2"),
    (request(1, 1024).dedicated().thread('isolate').emulator('isolate').build(),
     HostUsage(pinned=frozenset({0, 1, 2, 5, 6, 7})), reasons.NUMA_CELL_NO_EMULATOR_PCPU,
     "cell 0: no free pCPU left for the isolated emulator threads"),
    (request(1, 512).port('physnet1').port('physnet1').port('physnet1').port('physnet1')
     .build(), HostUsage(), reasons.PCI_NO_DEVICE, "3 free VF on physnet1 devices, needs 4"),
    (request(1, 512).alias('gpu', 2).build(), HostUsage(), reasons.PCI_NO_DEVICE,
     "1 free 10de:1db4 devices, needs 2"),
])
def test_quick_reject_names_reason_and_numbers(spec, usage, reason, detail):
    needs = RequestNeeds.of(spec)
    rejection = needs.quick_reject(summary(usage))
    assert (rejection.reason, rejection.detail, rejection.host) == (reason, detail, 'host-0')
    assert needs.reject_reason(summary(usage)) == reason
    assert place(TOPOLOGY, spec, usage).reason == reason      # the fit agrees


def test_shortfall_is_what_is_missing():
    rejection = RequestNeeds.of(request(10, 1024).dedicated().build()).quick_reject(summary())
    assert (rejection.cell, rejection.shortfall) == (0, 2)
    divisor = RequestNeeds.of(request(1, 1025).numa(1).pages(M2).build())
    assert divisor.quick_reject(summary()).shortfall is None


@pytest.mark.parametrize('spec', [
    request(2, 1024).build(),
    request(8, 2048).numa(2).dedicated().build(),
    request(4, 2048).numa(1).dedicated().thread('require').pages('large').build(),
    request(2, 1024).numa(2).dedicated().port('physnet1').alias('gpu').sev().build(),
])
def test_quick_reject_passes_hosts_the_fit_accepts(spec):
    assert RequestNeeds.of(spec).quick_reject(summary()) is None
    assert not hasattr(place(TOPOLOGY, spec), 'reason')


def test_needs_use_the_policy_ratios():
    usage = HostUsage(floating_vcpus=8)              # 4 shared pCPUs x 2.0 = 8
    spec = request(1, 512).build()
    assert RequestNeeds.of(spec, FitPolicy(2.0, 1.0)).reject_reason(summary(usage)) == (
        reasons.HOST_VCPUS)
    assert RequestNeeds.of(spec).reject_reason(summary(usage)) is None
