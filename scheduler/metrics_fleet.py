"""Capacity gauges computed at scrape time from the warm view (docs/metrics.md).

``FleetCollector`` is a prometheus_client custom collector: each scrape takes
a snapshot of the view's host states (immutable values) and sums what their
summaries already hold: free pCPUs and pages per cell, free VFs per physical
network.  Nothing is set on the decision path.  Per-host and per-cell series
are exported only up to ``GaugeSettings.max_hosts`` hosts; fleet-wide and
per-aggregate totals always are.
"""

from prometheus_client.core import GaugeMetricFamily

PREFIX = 'kvmfleet_scheduler_'
HOST_STATES = ('up', 'down', 'disabled')


def host_state(up, enabled):
    """'disabled' (whatever its liveness), 'up' or 'down'."""
    if not enabled:
        return 'disabled'
    return 'up' if up else 'down'


def gauge(name, documentation, labels=()):
    return GaugeMetricFamily(PREFIX + name, documentation, labels=list(labels))


def _add(totals, key, value):
    totals[key] = totals.get(key, 0) + value


class Totals:
    """Sums of pCPUs, pages and free VFs over some hosts."""

    def __init__(self):
        self.pcpus = 0
        self.free_pcpus = 0
        self.pages = {}          # size_kb -> pages
        self.free_pages = {}     # size_kb -> free pages
        self.free_vfs = {}       # physnet -> free VFs

    def add_cell(self, cell, cell_summary):
        self.pcpus += len(cell.cpus)
        self.free_pcpus += cell_summary.free_pcpus
        for size_kb, count in cell.pages.items():
            _add(self.pages, size_kb, count)
            _add(self.free_pages, size_kb, cell_summary.free_pages.get(size_kb, 0))

    def add_vfs(self, free_vfs_by_physnet):
        for physnet, count in free_vfs_by_physnet.items():
            _add(self.free_vfs, physnet, count)


def fleet_totals(hosts):
    """(fleet Totals, {aggregate: Totals}) of HostStates."""
    fleet, by_aggregate = Totals(), {}
    for host in hosts:
        targets = [fleet] + [by_aggregate.setdefault(name, Totals())
                             for name in host.topology.aggregates]
        for cell, cell_summary in zip(host.topology.cells, host.summary.cells):
            for totals in targets:
                totals.add_cell(cell, cell_summary)
        for totals in targets:
            totals.add_vfs(host.summary.free_vfs)
    return fleet, by_aggregate


def host_count_family(hosts, up, enabled):
    family = gauge('hosts', 'Hosts the scheduler knows, by state (up, down, disabled).',
                   ['state'])
    counts = dict.fromkeys(HOST_STATES, 0)
    for host in hosts:
        counts[host_state(up.get(host.name, False), enabled.get(host.name, False))] += 1
    for state, count in counts.items():
        family.add_metric([state], count)
    return family


def totals_families(scope, totals_by_key, key_label):
    """Gauges of ``{key: Totals}``: scope 'fleet' (one key, no label) or 'aggregate'."""
    labels = [key_label] if key_label else []
    what = 'the fleet' if scope == 'fleet' else 'the hosts of each aggregate'
    pcpus = gauge(f'{scope}_pcpus', f'Dedicated pCPUs of {what}.', labels)
    free_pcpus = gauge(f'{scope}_free_pcpus', f'Dedicated pCPUs no claim holds, in {what}.',
                       labels)
    pages = gauge(f'{scope}_pages', f'Memory pages of {what}, by page size.',
                  labels + ['page_size_kb'])
    free_pages = gauge(f'{scope}_free_pages', f'Memory pages no claim holds, in {what}, by '
                       'page size.', labels + ['page_size_kb'])
    free_vfs = gauge(f'{scope}_free_vfs', f'SR-IOV VFs a new instance could get, in {what}, '
                     'by physical network.', labels + ['physnet'])
    for key, totals in sorted(totals_by_key.items()):
        prefix = [key] if key_label else []
        pcpus.add_metric(prefix, totals.pcpus)
        free_pcpus.add_metric(prefix, totals.free_pcpus)
        for size_kb in sorted(totals.pages):
            pages.add_metric(prefix + [str(size_kb)], totals.pages[size_kb])
            free_pages.add_metric(prefix + [str(size_kb)], totals.free_pages[size_kb])
        for physnet in sorted(totals.free_vfs):
            free_vfs.add_metric(prefix + [physnet], totals.free_vfs[physnet])
    return [pcpus, free_pcpus, pages, free_pages, free_vfs]


def per_host_families(hosts):
    """Per-cell pCPU and page gauges and per-host free VF gauges of every host."""
    pcpus = gauge('cell_pcpus', 'Dedicated pCPUs of a host NUMA cell.', ['host', 'cell'])
    free_pcpus = gauge('cell_free_pcpus', 'Dedicated pCPUs of a host NUMA cell no claim holds.',
                       ['host', 'cell'])
    pages = gauge('cell_pages', 'Memory pages of a host NUMA cell, by page size.',
                  ['host', 'cell', 'page_size_kb'])
    free_pages = gauge('cell_free_pages', 'Memory pages of a host NUMA cell no claim holds, '
                       'by page size.', ['host', 'cell', 'page_size_kb'])
    free_vfs = gauge('host_free_vfs', 'SR-IOV VFs of a host a new instance could get, by '
                     'physical network.', ['host', 'physnet'])
    for host in hosts:
        for cell, cell_summary in zip(host.topology.cells, host.summary.cells):
            where = [host.name, str(cell.id)]
            pcpus.add_metric(where, len(cell.cpus))
            free_pcpus.add_metric(where, cell_summary.free_pcpus)
            for size_kb, count in sorted(cell.pages.items()):
                pages.add_metric(where + [str(size_kb)], count)
                free_pages.add_metric(where + [str(size_kb)],
                                      cell_summary.free_pages.get(size_kb, 0))
        for physnet, count in sorted(host.summary.free_vfs.items()):
            free_vfs.add_metric([host.name, physnet], count)
    return [pcpus, free_pcpus, pages, free_pages, free_vfs]


class FleetCollector:
    """Gauges of a fleet; ``snapshot()`` returns (HostStates, up dict, enabled dict)."""

    def __init__(self, snapshot, settings):
        self.snapshot = snapshot
        self.settings = settings

    def describe(self):
        return []     # computed at scrape time: nothing to check at registration

    def collect(self):
        hosts, up, enabled = self.snapshot()
        yield host_count_family(hosts, up, enabled)
        fleet, by_aggregate = fleet_totals(hosts)
        yield from totals_families('fleet', {'': fleet}, None)
        yield from totals_families('aggregate', by_aggregate, 'aggregate')
        per_host = self.settings.per_host and len(hosts) <= self.settings.max_hosts
        exported = gauge('per_host_gauges', '1 when per-host and per-cell gauges are '
                         'exported, 0 when the fleet is larger than [metrics] '
                         'per_host_gauges_max_hosts (or they are off).')
        exported.add_metric([], 1 if per_host else 0)
        yield exported
        if per_host:
            yield from per_host_families(hosts)
