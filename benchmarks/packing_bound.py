"""An upper bound on how many VMs of a request stream any placer fits on a fleet.

The LP relaxation of placement: variables are how many guests of each kind
go to each host with each choice (which host cell backs each guest cell,
which page size backs its memory), fractions allowed; constraints are each
kind's count in the stream and each host's pools:

* per host cell: dedicated threads for pinned vCPUs (an ``isolate`` vCPU on
  an SMT cell holds its whole core), shared pCPUs x cpu ratio for floating
  vCPUs, small-page MiB x ram ratio, free pages of each size;
* per host: all dedicated threads (pinned vCPUs and isolated emulator
  threads), floating vCPUs and small-page MiB of every guest, VFs per
  physical network (NUMA affinity of VFs is relaxed: the bound stays valid).

Every real placement is a feasible point, so the LP optimum bounds them all.
Hosts are taken one by one (a fleet of alike hosts gives the same optimum
as one host with the pools multiplied).  Needs scipy (a benchmark-only
dependency, test-requirements.txt).
"""

import itertools

from scipy.optimize import linprog

from scheduler.fitting.cells import guest_cell_needs
from scheduler.fitting.facts import facts_of
from wire.request_spec import PAGE_ANY, PAGE_LARGE, PAGE_SMALL, THREAD_ISOLATE
from wire.topology import SMALL_PAGE_KB


def lp_bound(hosts, counts, cpu_ratio=4.0, ram_ratio=1.0):
    """The LP optimum: at most this many of ``counts`` ([(RequestSpec, n)]) fit on ``hosts``."""
    columns, rows = [], {}
    for kind, (spec, _) in enumerate(counts):
        for host in hosts:
            for use in _choices(host, spec):
                columns.append((kind, use))
                for resource in use:
                    rows.setdefault(resource, None)
    if not columns:
        return 0.0
    index = {resource: i for i, resource in enumerate(rows)}
    capacity = _capacities(hosts, cpu_ratio, ram_ratio)
    kinds = len(counts)
    matrix = [[0.0] * len(columns) for _ in range(kinds + len(index))]
    for column, (kind, use) in enumerate(columns):
        matrix[kind][column] = 1.0
        for resource, amount in use.items():
            matrix[kinds + index[resource]][column] += amount
    bounds = [count for _, count in counts] + [capacity.get(resource, 0.0) for resource in index]
    result = linprog(c=[-1.0] * len(columns), A_ub=matrix, b_ub=bounds, bounds=(0, None),
                     method='highs')
    if result.status != 0:
        raise RuntimeError(f"LP bound: {result.message}")
    return -result.fun


def _capacities(hosts, cpu_ratio, ram_ratio):
    capacity = {}
    for host in hosts:
        name = host.name
        for cell in host.cells:
            capacity[(name, cell.id, 'threads')] = len(cell.cpus)
            capacity[(name, cell.id, 'floating')] = len(cell.shared_cpus) * cpu_ratio
            capacity[(name, cell.id, 'small_mb')] = cell.small_page_mb * ram_ratio
            for size_kb, count in cell.pages.items():
                capacity[(name, cell.id, size_kb)] = count
        capacity[(name, 'threads')] = sum(len(c.cpus) for c in host.cells)
        capacity[(name, 'floating')] = facts_of(host).shared_total * cpu_ratio
        capacity[(name, 'small_mb')] = facts_of(host).small_total_mb * ram_ratio
        for device in host.pci_devices:
            if device.type == 'type-VF' and device.physical_network:
                key = (name, 'vfs', device.physical_network)
                capacity[key] = capacity.get(key, 0) + 1
    return capacity


def _choices(host, spec):
    """Each way ``spec`` can sit on ``host``: {resource: amount} (the LP's columns)."""
    name, needs = host.name, guest_cell_needs(spec)
    base = {}
    for port in spec.ports:
        if port.vnic_type == 'direct':
            _add(base, (name, 'vfs', port.physical_network), 1)
    if not needs:       # floats over the whole host, small pages
        use = dict(base)
        _add(use, (name, 'floating'), spec.vcpus)
        _add(use, (name, 'small_mb'), spec.memory_mb)
        return [use]
    smt = {cell.id: any(len(core) > 1 for core in facts_of(host).cores[cell.id].cores)
           for cell in host.cells}
    choices = []
    for cells in itertools.permutations(host.cells, len(needs)):
        per_cell = [_cell_uses(name, cell, need, spec, smt[cell.id])
                    for cell, need in zip(cells, needs)]
        for picked in itertools.product(*per_cell):
            use = dict(base)
            for part in picked:
                for resource, amount in part.items():
                    _add(use, resource, amount)
            choices.append(use)
    return choices


def _cell_uses(name, cell, need, spec, smt):
    """The ways one guest cell can sit on one host cell (one per page size)."""
    isolate = spec.thread_policy == THREAD_ISOLATE and smt
    threads = len(need.pinned) * (2 if isolate else 1)
    emulator = (2 if isolate else 1) if need.emulator else 0
    common = {(name, cell.id, 'threads'): threads, (name, 'threads'): threads + emulator}
    if need.floating:
        common[(name, cell.id, 'floating')] = len(need.floating)
        common[(name, 'floating')] = len(need.floating)
    memory = need.cell.memory_mb
    uses = []
    for size_kb in _page_sizes(cell, spec.page_size):
        use = dict(common)
        if size_kb == SMALL_PAGE_KB:
            use[(name, cell.id, 'small_mb')] = memory
            use[(name, 'small_mb')] = memory
        elif (memory * 1024) % size_kb == 0:
            use[(name, cell.id, size_kb)] = memory * 1024 // size_kb
        else:
            continue
        uses.append(use)
    return uses


def _page_sizes(cell, page_size):
    huge = [size for size in cell.pages if size > SMALL_PAGE_KB]
    if page_size in (None, PAGE_SMALL, SMALL_PAGE_KB):
        return [SMALL_PAGE_KB]
    if page_size == PAGE_LARGE:
        return huge
    if page_size == PAGE_ANY:
        return huge + [SMALL_PAGE_KB]
    return [int(page_size)] if int(page_size) in cell.pages else []


def _add(use, resource, amount):
    use[resource] = use.get(resource, 0) + amount
