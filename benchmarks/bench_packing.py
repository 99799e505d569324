"""Packing benchmark: how many VMs of a mixed stream a small fleet takes, against a bound.

For each mix and seed, a stream of ``--requests`` requests is drawn from the
mix's kinds by weight and placed in order on ``--hosts`` empty hosts (the
hosts of benchmarks/generate_fleet.py: 2 cells x 12 dedicated cores x 2
threads, 3 shared cores per cell, 16 x 1G and 8192 x 2M pages per cell, one
PF per cell with 4 VFs on physnet1 / physnet2); a request that fits nowhere
is skipped and the stream goes on.  Printed per mix and seed: VMs placed by
each engine variant, the LP-relaxation upper bound (benchmarks/packing_bound.py:
no placer fits more), placed / bound, and what was left idle, by kind, when
the first request failed, for the default engine and for the other
``large_page_order`` choices; and the VMs the engine placed before these
changes (BEFORE, where measured): the default must never place fewer.

    python benchmarks/bench_packing.py --seeds 1 2 3 [--mixes mixed pinned] [--json]
"""

import argparse
import json
import pathlib
import random
import statistics
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_placement import machine  # noqa: E402
from benchmarks.generate_fleet import host_dict  # noqa: E402
from benchmarks.packing_bound import lp_bound  # noqa: E402
from scheduler.engine import EngineSettings, build_engine  # noqa: E402
from scheduler.engine.fleet import FleetView  # noqa: E402
from scheduler.specs import parse_request  # noqa: E402
from wire.topology import HostTopology  # noqa: E402

PINNED = {'hw:cpu_policy': 'dedicated'}
G1, M2 = 1048576, 2048
KINDS = {
    'pinned_2m': {'vcpus': 4, 'memory_mb': 4096, 'extra_specs': dict(
        PINNED, **{'hw:mem_page_size': '2MB'})},
    'pinned_1g': {'vcpus': 4, 'memory_mb': 4096, 'extra_specs': dict(
        PINNED, **{'hw:mem_page_size': '1GB'})},
    'two_cell_1g': {'vcpus': 8, 'memory_mb': 8192, 'extra_specs': dict(
        PINNED, **{'hw:numa_nodes': '2', 'hw:mem_page_size': '1GB'})},
    'isolate': {'vcpus': 4, 'memory_mb': 8192, 'extra_specs': dict(
        PINNED, **{'hw:cpu_thread_policy': 'isolate'})},
    'emulator_isolate': {'vcpus': 3, 'memory_mb': 8192, 'extra_specs': dict(
        PINNED, **{'hw:emulator_threads_policy': 'isolate'})},
    'asymmetric': {'vcpus': 6, 'memory_mb': 8192, 'extra_specs': dict(PINNED, **{
        'hw:numa_nodes': '2', 'hw:numa_cpus.0': '0-3', 'hw:numa_cpus.1': '4-5',
        'hw:numa_mem.0': '6144', 'hw:numa_mem.1': '2048'})},
    'large_shared': {'vcpus': 2, 'memory_mb': 4096, 'extra_specs': {
        'hw:mem_page_size': 'large'}},
    'sriov': {'vcpus': 2, 'memory_mb': 4096, 'extra_specs': dict(PINNED),
              'ports': [{'vnic_type': 'direct', 'physical_network': 'physnet1'}]},
}
MIXES = {
    'mixed': {kind: 1 for kind in KINDS},
    'hugepages': {'pinned_1g': 3, 'two_cell_1g': 2, 'large_shared': 3, 'pinned_2m': 1},
    'pinned': {'isolate': 3, 'emulator_isolate': 3, 'pinned_2m': 1, 'asymmetric': 2},
    'sriov': {'sriov': 4, 'pinned_2m': 1, 'large_shared': 1, 'isolate': 1},
}


# VMs placed by the engine before issue 10 (commit 7718fab) on these streams: the
# default engine must never place fewer (the exit status says so).
BEFORE = {
    ('mixed', 1, 20, 2000): 408, ('mixed', 2, 20, 2000): 390, ('mixed', 3, 20, 2000): 408,
    ('hugepages', 1, 20, 2000): 292, ('hugepages', 2, 20, 2000): 295,
    ('hugepages', 3, 20, 2000): 292,
    ('pinned', 1, 20, 2000): 163, ('pinned', 2, 20, 2000): 160, ('pinned', 3, 20, 2000): 169,
    ('sriov', 1, 20, 2000): 463, ('sriov', 2, 20, 2000): 463, ('sriov', 3, 20, 2000): 458,
    # the small streams the unit tests place (tests/unit/benchmarks/test_bench_packing.py)
    ('mixed', 1, 6, 300): 100, ('mixed', 2, 6, 300): 89,
    ('hugepages', 1, 6, 300): 88, ('hugepages', 2, 6, 300): 90,
    ('pinned', 1, 6, 300): 49, ('pinned', 2, 6, 300): 51,
    ('sriov', 1, 6, 300): 105, ('sriov', 2, 6, 300): 108,
}


def variants(seed=None):
    """The engine settings compared: the default (ties in random order, seeded by the
    stream's seed so a run can be repeated), the default with ties by name (the
    rule BEFORE was measured with), and the other large-page orders."""
    return {'default': EngineSettings(seed=seed),
            'name_ties': EngineSettings(shuffle_best_same_weighed_hosts=False),
            'most_free': EngineSettings(large_page_order='most_free', seed=seed),
            'smallest': EngineSettings(large_page_order='smallest', seed=seed)}


def fleet_hosts(count):
    return [HostTopology.from_dict(host_dict(f'pack-{i:02d}')) for i in range(count)]


def draw_stream(mix, requests, seed):
    """(kind names, RequestSpecs) of ``requests`` drawn from ``mix`` by weight."""
    rng = random.Random(seed)
    kinds = [kind for kind, weight in MIXES[mix].items() for _ in range(weight)]
    parsed = {kind: parse_request(dict(KINDS[kind], name=kind)) for kind in set(kinds)}
    names = [rng.choice(kinds) for _ in range(requests)]
    return names, [parsed[name] for name in names]


def idle(fleet, ratio):
    """What the fleet has left, as a share of what it has, by kind of resource."""
    free, total = dict.fromkeys(IDLE_KINDS, 0), dict.fromkeys(IDLE_KINDS, 0)
    for state in fleet.hosts():
        summary, topology = state.summary, state.topology
        free['pcpus'] += summary.free_pcpus
        total['pcpus'] += sum(len(cell.cpus) for cell in topology.cells)
        free['floating_vcpus'] += summary.shared_total * ratio - summary.shared_used
        total['floating_vcpus'] += summary.shared_total * ratio
        free['small_mb'] += summary.small_total_mb - summary.small_used_mb
        total['small_mb'] += summary.small_total_mb
        for size, kind in ((G1, '1G_pages'), (M2, '2M_pages')):
            free[kind] += summary.free_pages.get(size, 0)
            total[kind] += sum(cell.pages.get(size, 0) for cell in topology.cells)
        free['vfs'] += summary.free_vf_total
        total['vfs'] += sum(1 for d in topology.pci_devices if d.type == 'type-VF')
    return {kind: round(free[kind] / total[kind], 3) if total[kind] else None
            for kind in IDLE_KINDS}


IDLE_KINDS = ('pcpus', 'floating_vcpus', 'small_mb', '1G_pages', '2M_pages', 'vfs')


def run_stream(hosts, specs, settings):
    """(VMs placed, idle shares when the first request failed)."""
    fleet, engine = FleetView(hosts), build_engine(settings)
    placed, first_failure = 0, None
    for index, spec in enumerate(specs):
        placement = engine.place(spec, fleet, [f'vm-{index}'])
        if not placement.placed:
            if first_failure is None:
                first_failure = dict(idle(fleet, settings.cpu_allocation_ratio), at=index)
            continue
        placed += 1
        for assignment in placement.assignments:
            fleet.apply(assignment)
    return placed, first_failure


def bench(mix, seed, args):
    hosts = fleet_hosts(args.hosts)
    names, specs = draw_stream(mix, args.requests, seed)
    bound = lp_bound(hosts, [(spec, names.count(kind)) for kind, spec in _kinds(names, specs)])
    result = {'mix': mix, 'seed': seed, 'hosts': args.hosts, 'requests': args.requests,
              'bound': round(bound, 1),
              'reference': BEFORE.get((mix, seed, args.hosts, args.requests))}
    for name, settings in variants(seed).items():
        placed, first_failure = run_stream(hosts, specs, settings)
        result[name] = {'placed': placed, 'of_bound': round(placed / bound, 3),
                        'idle_at_first_failure': first_failure}
    return result


def _kinds(names, specs):
    """(kind, its RequestSpec) for each kind in the stream, in first-seen order."""
    seen = {}
    for name, spec in zip(names, specs):
        seen.setdefault(name, spec)
    return list(seen.items())


def print_table(report):
    info = report['machine']
    names = list(variants())
    print(f"machine: {info['cpu_model']}, {info['cores']} cores, Python {info['python']}")
    print(f"command: {report['command']}")
    print('| mix | seed | bound | ' + ' | '.join(f"{name}: placed (of bound)" for name in names)
          + ' | before (reference) | idle at first failure (default) |')
    print('|' + '------|' * (len(names) + 5))
    for r in report['results']:
        print(f"| {r['mix']} | {r['seed']} | {r['bound']} | "
              + ' | '.join(f"{r[name]['placed']} ({r[name]['of_bound']})" for name in names)
              + f" | {r['reference'] if r['reference'] is not None else '-'} "
              f"| {_idle_text(r['default'])} |")
    for mix, summary in report['medians'].items():
        print(f"median placed/bound, {mix}: "
              + ', '.join(f"{name} {value}" for name, value in summary.items()))


def _idle_text(variant):
    first = variant['idle_at_first_failure']
    if first is None:
        return 'none failed'
    return ', '.join(f"{kind} {first[kind]:.0%}" for kind in IDLE_KINDS
                     if first[kind] is not None)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seeds', type=int, nargs='+', default=[1, 2, 3])
    parser.add_argument('--mixes', nargs='+', choices=sorted(MIXES), default=list(MIXES))
    parser.add_argument('--hosts', type=int, default=20)
    parser.add_argument('--requests', type=int, default=2000)
    parser.add_argument('--json', action='store_true', help='print the report as JSON')
    args = parser.parse_args(argv)
    arguments = sys.argv[1:] if argv is None else list(argv)
    command = ' '.join([sys.executable, 'benchmarks/bench_packing.py'] + arguments)
    results = [bench(mix, seed, args) for mix in args.mixes for seed in args.seeds]
    medians = {mix: {name: statistics.median(r[name]['of_bound'] for r in results
                                             if r['mix'] == mix)
                     for name in variants()} for mix in args.mixes}
    report = {'machine': machine(), 'command': command, 'results': results,
              'medians': medians}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_table(report)
    never_fewer = all(r['reference'] is None or r['name_ties']['placed'] >= r['reference']
                      for r in results)
    return 0 if never_fewer else 1


if __name__ == '__main__':
    sys.exit(main())
