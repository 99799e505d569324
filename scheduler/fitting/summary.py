"""Cheap per-host summaries and per-request needs, to reject hosts before the fit.

``HostSummary.of(host, usage)`` is computed when a host's usage changes;
``RequestNeeds.of(spec, policy)`` once per request.  ``quick_reject`` then
costs a few comparisons per host.  Its contract: it never rejects a host the
exact fit would accept (the CPU, memory and page checks per cell are the
fit's own arithmetic; cells are matched exactly; PCI and SEV are counted
without NUMA affinity, so they can only under-reject).  Tests hold it to
that over random hosts and request streams.
"""

import dataclasses

from scheduler.fitting import cell_checks, pci, pinning, reasons
from scheduler.fitting.cells import guest_cell_needs
from scheduler.fitting.facts import facts_of
from scheduler.fitting.policy import FitPolicy
from scheduler.fitting.reasons import Rejection
from wire import sev
from wire.request_spec import PAGE_SMALL, THREAD_ISOLATE, THREAD_REQUIRE
from wire.topology import SMALL_PAGE_KB


@dataclasses.dataclass(frozen=True, slots=True)
class CellSummary:
    id: int
    free_pcpus: int
    whole_free_cores: int        # cores (any size) whose dedicated threads are all free
    whole_free_smt_threads: int  # threads in wholly free cores of two or more threads
    smt: bool
    shared_cpus: int
    shared_vcpus_used: int
    small_mb: int                # small-page MiB of the cell (pools and reserve excluded)
    small_used_mb: int
    free_pages: dict             # {size_kb: free pages} for every pool of the cell
    hugepage_sizes: tuple = ()   # pool sizes above 4 KiB, largest first


@dataclasses.dataclass(frozen=True, slots=True)
class HostSummary:
    name: str
    cells: tuple
    shared_total: int
    shared_used: int
    small_total_mb: int
    small_used_mb: int
    sev_free: int                # free plain SEV slots
    sev_es_free: int             # free SEV-ES slots (SEV-SNP guests take them too)
    sev_snp: bool                # the host runs SEV-SNP guests at all
    free_devices: dict           # (vendor, product) lower-case -> free devices
    free_vfs: dict               # physical network -> free VFs
    free_pfs: dict               # physical network -> free PFs
    iommu_blocked: dict          # (table, key) -> devices free but for their IOMMU group
    free_vf_total: int           # free VFs of any network (or none)
    # Host totals of the above, for the engine's index and weighers (fitting.necessary):
    free_pcpus: int
    free_pcpus_max_cell: int
    free_pages: dict             # size_kb -> free pages, whole host
    free_hugepage_mb: int
    free_ram_mb: int             # small-page and hugepage memory nothing holds
    free_shared_vcpus: int       # shared pCPUs minus floating vCPUs (no ratio)
    free_pci: int                # free PCI devices of any kind

    @classmethod
    def of(cls, host, usage):
        """Summarise what ``host`` has free under ``usage``."""
        facts = facts_of(host)
        tables = _free_pci(facts, usage)
        cells = tuple(_cell_summary(cell, facts.cores[cell.id], usage) for cell in host.cells)
        free_pcpus = [cs.free_pcpus for cs in cells]
        free_pages = {}
        for cs in cells:
            for size_kb, free in cs.free_pages.items():
                free_pages[size_kb] = free_pages.get(size_kb, 0) + free
        free_hugepage_mb = sum(kb * n for kb, n in free_pages.items()) // 1024
        return cls(
            name=host.name, cells=cells,
            shared_total=facts.shared_total, shared_used=usage.shared_vcpus,
            small_total_mb=facts.small_total_mb, small_used_mb=usage.small_memory_mb,
            sev_free=sev.free(host, usage, sev.SEV),
            sev_es_free=sev.free(host, usage, sev.SEV_ES),
            sev_snp=sev.supported(host, sev.SEV_SNP),
            free_pcpus=sum(free_pcpus), free_pcpus_max_cell=max(free_pcpus, default=0),
            free_pages=free_pages, free_hugepage_mb=free_hugepage_mb,
            free_ram_mb=facts.small_total_mb - usage.small_memory_mb + free_hugepage_mb,
            free_shared_vcpus=facts.shared_total - usage.shared_vcpus,
            free_pci=sum(tables['free_devices'].values()),
            **tables)


def _cell_summary(cell, cores, usage):
    free_pcpus, whole_cores, whole_smt_threads = pinning.counts(cores, cell.cpus - usage.pinned)
    return CellSummary(
        id=cell.id, free_pcpus=free_pcpus, whole_free_cores=whole_cores,
        whole_free_smt_threads=whole_smt_threads,
        smt=cores.smt, shared_cpus=len(cell.shared_cpus),
        shared_vcpus_used=usage.shared_vcpus_by_cell.get(cell.id, 0),
        small_mb=cell.small_page_mb, small_used_mb=usage.small_mb_by_cell.get(cell.id, 0),
        free_pages={kb: n - usage.pages_used(cell.id, kb) for kb, n in cell.pages.items()},
        hugepage_sizes=tuple(sorted((kb for kb in cell.pages if kb > SMALL_PAGE_KB),
                                    reverse=True)))


def _free_pci(facts, usage):
    """Free devices per table key, and those free but for their IOMMU group."""
    tables = {'free_devices': {}, 'free_vfs': {}, 'free_pfs': {}, 'iommu_blocked': {},
              'free_vf_total': 0}
    used = usage.pci_used
    for device in facts.devices.values():
        if not pci.unshared(facts, used, device):
            continue
        blocked = bool(pci.group_blockers(facts, device, used))
        if device.type == 'type-VF' and not blocked:
            tables['free_vf_total'] += 1
        for table, key in _table_keys(device):
            if blocked:
                _count(tables['iommu_blocked'], (table, key))
            else:
                _count(tables[table], key)
    return tables


def _table_keys(device):
    keys = [('free_devices', (device.vendor_id.lower(), device.product_id.lower()))]
    if pci.vf_physical_network(device):
        keys.append(('free_vfs', device.physical_network))
    if device.physical_network and device.type == 'type-PF':
        keys.append(('free_pfs', device.physical_network))
    return keys


def _count(table, key):
    table[key] = table.get(key, 0) + 1


_DETAILS = {
    reasons.SEV_NO_SLOTS: "{have} free {unit} slots, needs {need}",
    reasons.SEV_SNP_UNSUPPORTED: sev.SNP_UNSUPPORTED_DETAIL,
    reasons.HOST_NO_SHARED_CPUS: "no shared pCPUs for {need} floating vCPUs",
    reasons.HOST_RAM: "{have} MiB of small-page memory free, needs {need}",
    reasons.NOT_ENOUGH_CELLS: "{have} host cells can each take a guest cell, guest has {need}",
    reasons.NUMA_CELL_NO_SHARED_CPUS: "cell {cell}: no shared pCPUs for {need} floating vCPUs",
    reasons.NUMA_CELL_NO_MEMORY: "cell {cell}: {have} MiB of small-page memory {unit}, "
                                 "needs {need}",
    reasons.NUMA_CELL_NO_PAGE_SIZE: "cell {cell}: no {unit} page pool",
    reasons.NUMA_CELL_NO_FREE_PAGES: "cell {cell}: {have} free {unit} pages, needs {need}",
    reasons.PAGE_SIZE_NOT_DIVISOR: "{need} MiB is not a whole number of {unit} pages",
    reasons.NUMA_CELL_NO_FREE_PCPUS: "cell {cell}: {have} free dedicated pCPUs, needs {need}",
    reasons.NUMA_CELL_NO_FREE_CORES: "cell {cell}: {have} {unit}, needs {need}",
    reasons.NO_SMT_FOR_REQUIRE: "cell {cell}: no SMT siblings, thread policy require",
    reasons.NUMA_CELL_NO_EMULATOR_PCPU: "cell {cell}: no free pCPU left for the isolated "
                                        "emulator threads",
    reasons.PCI_NO_DEVICE: "{have} free {unit} devices, needs {need}",
    reasons.PCI_IOMMU_GROUP: "{have} free {unit} devices, needs {need}; more are free but "
                             "share an IOMMU group with a device kept by the host or held by "
                             "another instance",
}
DEFAULT_POLICY = FitPolicy()
_NO_SHORTFALL = (reasons.PAGE_SIZE_NOT_DIVISOR, reasons.NUMA_CELL_NO_PAGE_SIZE)
_HOST_PCPUS_DETAIL = "{have} free dedicated pCPUs on the host, needs {need}"


@dataclasses.dataclass(frozen=True, slots=True)
class CellNeed:
    pinned: int
    floating: int
    memory_mb: int
    emulator: bool


@dataclasses.dataclass(frozen=True, slots=True)
class RequestNeeds:
    """What one request asks of any host, derived once per request."""

    sev: str | None              # the memory encryption model (wire.sev), None without
    cells: tuple                 # CellNeed per guest cell; () without NUMA topology
    floating: int                # floating vCPUs host-wide
    largest_floating: int        # floating vCPUs of one guest over the whole host set
    small_mb: int                # small-page MiB host-wide (0 when pages are not small)
    largest_small_mb: int
    pinned_total: int            # pinned vCPUs plus isolated emulator pCPU
    page_size: object
    thread_policy: str | None
    cpu_ratio: float
    ram_ratio: float
    devices: tuple               # ((table, key, count, unit), ...)
    memory_mb: int = 0           # the guest's memory, of its page size
    pinned_max_cell: int = 0     # pinned vCPUs plus isolated emulator pCPU of one guest cell
    any_vfs: int = 0             # VFs asked by ports that name no network

    @classmethod
    def of(cls, spec, policy=None):
        """Derive the needs of ``spec`` (with the fit's allocation ratios)."""
        policy = policy or DEFAULT_POLICY
        guest_cells = guest_cell_needs(spec)
        small = spec.page_size in (None, PAGE_SMALL, SMALL_PAGE_KB)
        cells = tuple(CellNeed(len(n.pinned), len(n.floating), n.cell.memory_mb, n.emulator)
                      for n in guest_cells)
        floating = sum(c.floating for c in cells) if cells else spec.vcpus
        memory = [c.memory_mb for c in cells] if cells else [spec.memory_mb]
        device_needs = pci.device_needs(spec)
        return cls(
            sev=sev.spec_model(spec), cells=cells, floating=floating,
            largest_floating=0 if cells else spec.vcpus,
            small_mb=sum(memory) if small else 0,
            largest_small_mb=max(memory) if small else 0,
            pinned_total=sum(c.pinned + c.emulator for c in cells),
            page_size=spec.page_size, thread_policy=spec.thread_policy,
            cpu_ratio=policy.cpu_allocation_ratio, ram_ratio=policy.ram_allocation_ratio,
            devices=_device_counts(device_needs), memory_mb=sum(memory),
            pinned_max_cell=max((c.pinned + c.emulator for c in cells), default=0),
            any_vfs=sum(n.count for n in device_needs
                        if n.device_type == 'type-VF' and not n.physical_network))

    def reject_reason(self, summary):
        """The reason code quick_reject would give, or None (no formatting cost)."""
        miss = self._miss(summary)
        return miss[0] if miss else None

    def quick_reject(self, summary):
        """A Rejection if the host surely cannot fit, else None (the fit decides)."""
        miss = self._miss(summary)
        if miss is None:
            return None
        reason, cell, need, have, unit = miss
        if isinstance(unit, tuple):      # floating vCPUs: (shared pCPUs, ratio or None)
            shared, ratio = unit
            detail = (reasons.vcpu_limit_detail(need, shared, cell) if ratio is None
                      else reasons.vcpu_room_detail(need, have, shared, ratio, cell))
        else:
            template = _HOST_PCPUS_DETAIL if unit == 'host' else _DETAILS[reason]
            detail = template.format(cell=cell, need=need, have=have, unit=unit)
        return Rejection(reason, detail, host=summary.name, cell=cell, shortfall=_gap(miss))

    def _miss(self, summary):
        if self.sev:
            miss = _sev_miss(self.sev, summary)
            if miss is not None:
                return miss
        miss = self._host_miss(summary)
        if miss is None and self.cells:
            miss = self._cells_miss(summary)
        if miss is None and self.devices:
            miss = self._devices_miss(summary)
        return miss

    def _host_miss(self, summary):
        if self.floating:
            total = summary.shared_total
            if not total:
                return reasons.HOST_NO_SHARED_CPUS, None, self.floating, 0, ''
            if self.largest_floating > total:
                return reasons.HOST_VCPUS, None, self.largest_floating, total, (total, None)
            room = int(total * self.cpu_ratio) - summary.shared_used
            if self.floating > room:
                return reasons.HOST_VCPUS, None, self.floating, room, (total, self.cpu_ratio)
        if self.small_mb:
            total = summary.small_total_mb
            if self.largest_small_mb > total:
                return reasons.HOST_RAM, None, self.largest_small_mb, total, ''
            room = int(total * self.ram_ratio) - summary.small_used_mb
            if self.small_mb > room:
                return reasons.HOST_RAM, None, self.small_mb, room, ''
        return None

    def _cells_miss(self, summary):
        if len(self.cells) > len(summary.cells):
            return (reasons.NOT_ENOUGH_CELLS, None, len(self.cells), len(summary.cells), '')
        free_total = sum(cs.free_pcpus for cs in summary.cells)
        if self.pinned_total > free_total:
            return (reasons.NUMA_CELL_NO_FREE_PCPUS, None, self.pinned_total, free_total,
                    'host')
        if len(self.cells) == 1:       # the common case: any cell will do
            misses = []
            for cs in summary.cells:
                miss = self._cell_miss(cs, self.cells[0])
                if miss is None:
                    return None
                misses.append(miss)
            return min(misses, key=_closeness)
        fitting = []
        seen = {}                    # an even split repeats the same cell needs
        for need in self.cells:
            fits = seen.get(need)
            if fits is None:
                misses = [self._cell_miss(cs, need) for cs in summary.cells]
                fits = seen[need] = [i for i, miss in enumerate(misses) if miss is None]
                if not fits:
                    return min(misses, key=_closeness)
            fitting.append(fits)
        if not _injective(fitting, 0, frozenset()):
            usable = len(frozenset().union(*map(frozenset, fitting)))
            return reasons.NOT_ENOUGH_CELLS, None, len(self.cells), usable, ''
        return None

    def _cell_miss(self, cs, need):
        if need.floating:
            miss = cell_checks.floating_miss(need.floating, cs.shared_cpus,
                                             cs.shared_vcpus_used, self.cpu_ratio)
            if miss is not None:
                reason, floating, have, ratio = miss
                unit = '' if reason == reasons.NUMA_CELL_NO_SHARED_CPUS else (cs.shared_cpus,
                                                                             ratio)
                return reason, cs.id, floating, have, unit
        miss = _memory_miss(cs, need.memory_mb, self.page_size, self.ram_ratio)
        if miss is None and (need.pinned or need.emulator):
            miss = _pinning_miss(cs, need, self.thread_policy)
        return miss

    def _devices_miss(self, summary):
        for table, key, count, unit in self.devices:
            have = getattr(summary, table).get(key, 0)
            if count > have:
                grouped = summary.iommu_blocked.get((table, key), 0)
                reason = reasons.PCI_IOMMU_GROUP if grouped else reasons.PCI_NO_DEVICE
                return reason, None, count, have, unit
        return None


def _sev_miss(model, summary):
    """The fit's SEV checks (wire/sev.py) on the summary: support first, then a slot."""
    if model == sev.SEV_SNP and not summary.sev_snp:
        return reasons.SEV_SNP_UNSUPPORTED, None, 1, 0, ''
    free = summary.sev_es_free if sev.pool(model) == sev.SEV_ES else summary.sev_free
    if free < 1:
        return reasons.SEV_NO_SLOTS, None, 1, free, sev.SLOT_LABELS[model]
    return None


def _gap(miss):
    reason, _cell, need, have, _unit = miss
    return None if reason in _NO_SHORTFALL else need - have


def _closeness(miss):
    gap = _gap(miss)
    return (gap is None, gap or 0)


def _injective(fitting, index, used):
    if index == len(fitting):
        return True
    return any(_injective(fitting, index + 1, used | {cell})
               for cell in fitting[index] if cell not in used)


def _pinning_miss(cs, need, thread_policy):
    """The fit's pinning checks (pinning.room) on the cell's counts: vCPUs first, then
    the isolated emulator pCPU."""
    pinned, extra = need.pinned, int(need.emulator)
    if thread_policy == THREAD_REQUIRE and pinned and not cs.smt:
        return reasons.NO_SMT_FOR_REQUIRE, cs.id, pinned, 0, ''
    have, reason, unit = pinning.room(thread_policy, cs.smt, cs.free_pcpus,
                                      cs.whole_free_cores, cs.whole_free_smt_threads)
    if pinned > have:
        return reason, cs.id, pinned, have, unit
    # What is left for the emulator: isolate on SMT takes whole cores, the others pCPUs.
    left = (cs.whole_free_cores if thread_policy == THREAD_ISOLATE and cs.smt
            else cs.free_pcpus) - pinned
    if extra > left:
        return reasons.NUMA_CELL_NO_EMULATOR_PCPU, cs.id, extra, left, ''
    return None


def _memory_miss(cs, memory_mb, page_size, ram_ratio):
    """The fit's own page checks (cell_checks.choose_page) on the cell's summary."""
    chosen = cell_checks.choose_page(memory_mb, page_size,
                                     (cs.small_mb, cs.small_used_mb, ram_ratio),
                                     cs.hugepage_sizes, cs.free_pages.get)
    if isinstance(chosen, int):
        return None
    reason, need, have, unit = chosen
    return reason, cs.id, need, have, unit


def _device_counts(needs):
    """Counts per summary table key: ('free_devices', (vendor, product)) and physnets."""
    counts = {}
    for need in needs:
        if need.vendor_id and need.product_id:
            key = ('free_devices', (need.vendor_id, need.product_id), need.describe())
        elif need.physical_network and need.device_type in ('type-VF', 'type-PF'):
            table = 'free_vfs' if need.device_type == 'type-VF' else 'free_pfs'
            key = (table, need.physical_network, need.describe())
        else:
            continue
        counts[key] = counts.get(key, 0) + need.count
    return tuple((table, key, count, unit) for (table, key, unit), count in counts.items())
