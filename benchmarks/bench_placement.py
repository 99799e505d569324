"""Placement benchmark: a mixed NUMA/pinned/hugepage/SR-IOV stream on generated fleets.

For each fleet size, each run builds a fresh FleetView from a generated,
partly filled fleet (benchmarks/generate_fleet.py) and places the stream in
order, applying each placement (so the fleet fills as it goes).  A decision
is one ``Engine.place`` call; its wall time is recorded.  Printed: the
machine, the command, per size the median and p99 per decision (each run,
and all runs pooled).

    python benchmarks/bench_placement.py --sizes 1000 10000 --runs 3 --decisions 300
"""

import argparse
import gc
import json
import os
import pathlib
import platform
import random
import statistics
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from benchmarks.generate_fleet import generate  # noqa: E402
from scheduler.engine import EngineSettings, build_engine  # noqa: E402
from scheduler.engine.fleet import FleetView  # noqa: E402
from scheduler.specs import parse_request  # noqa: E402
from wire.files import parse_fleet  # noqa: E402

PINNED = {'hw:cpu_policy': 'dedicated'}
# The mixed stream: (weight, raw request without name).
STREAM = (
    (3, {'vcpus': 2, 'memory_mb': 4096, 'extra_specs': {}}),
    (3, {'vcpus': 4, 'memory_mb': 8192, 'extra_specs': dict(PINNED)}),
    (2, {'vcpus': 4, 'memory_mb': 8192, 'extra_specs': dict(
        PINNED, **{'hw:cpu_thread_policy': 'isolate', 'hw:emulator_threads_policy': 'isolate'})}),
    (2, {'vcpus': 8, 'memory_mb': 16384, 'extra_specs': dict(
        PINNED, **{'hw:numa_nodes': '2', 'hw:mem_page_size': '1GB'})}),
    (2, {'vcpus': 2, 'memory_mb': 4096, 'extra_specs': {'hw:mem_page_size': '2MB'}}),
    (2, {'vcpus': 4, 'memory_mb': 8192, 'extra_specs': dict(PINNED, **{
        'hw:mem_page_size': 'large'}),
         'ports': [{'vnic_type': 'direct', 'physical_network': 'physnet1'}]}),
    (1, {'vcpus': 6, 'memory_mb': 8192, 'extra_specs': {
        'hw:cpu_policy': 'mixed', 'hw:cpu_dedicated_mask': '^0-1'}}),
    (1, {'vcpus': 4, 'memory_mb': 4096, 'count': 3, 'extra_specs': dict(PINNED),
         'server_group': {'name': 'web', 'policy': 'anti-affinity'}}),
)
# Never fits (40 GiB of 1G pages in one cell; cells have 16): the NoValidHost path with
# its full explanation.  Mixed in with --failures (weight), off by default.
FAILING = {'vcpus': 8, 'memory_mb': 40960, 'extra_specs': dict(PINNED, **{
    'hw:mem_page_size': '1GB'})}


def stream(decisions, seed, failures=0):
    """``decisions`` parsed RequestSpecs drawn from STREAM (and FAILING) by weight."""
    rng = random.Random(seed)
    shapes = [raw for weight, raw in STREAM + ((failures, FAILING),) for _ in range(weight)]
    return [parse_request(dict(rng.choice(shapes), name=f'bench-{i}')) for i in range(decisions)]


def run_once(hosts, specs, settings):
    """Per-decision milliseconds (placed, failed) and how many decisions placed."""
    fleet, engine = FleetView(hosts), build_engine(settings)
    # As a long-running scheduler should after loading its fleet: move the warm view out
    # of the cyclic GC's reach, or a full collection over millions of objects (~0.7 s at
    # 10,000 hosts) lands in some decision.
    gc.collect()
    gc.freeze()
    timings, failed_timings, placed = [], [], 0
    for spec in specs:
        ids = [f'{spec.name}-{k}' for k in range(spec.count)]
        started = time.perf_counter()
        placement = engine.place(spec, fleet, ids)
        elapsed = (time.perf_counter() - started) * 1000.0
        (timings if placement.placed else failed_timings).append(elapsed)
        group = spec.server_group.name if spec.server_group else None
        for assignment in placement.assignments:
            fleet.apply(assignment, group)
        placed += placement.placed
    gc.unfreeze()
    return timings, failed_timings, placed


def p99(values):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def machine():
    model = platform.processor() or ''
    try:
        for line in pathlib.Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                model = line.split(':', 1)[1].strip()
                break
    except OSError:
        pass
    return {'cpu_model': model, 'cores': os.cpu_count(),
            'python': platform.python_version(), 'platform': platform.platform()}


def machine_line():
    """``machine()`` in one line: '<cores> CPUs, <model>, Python <version>'."""
    info = machine()
    return (f"{info['cores']} CPUs, {info['cpu_model'] or platform.machine()}, "
            f"Python {info['python']}")


def bench_size(size, args):
    hosts = parse_fleet(generate(size, args.seed, max_fill=args.max_fill))
    specs = stream(args.decisions, args.seed, args.failures)
    per_run, pooled, failed, placed = [], [], [], []
    for _ in range(args.runs):
        timings, failed_timings, count = run_once(hosts, specs, EngineSettings())
        per_run.append({'p50_ms': round(statistics.median(timings), 3),
                        'p99_ms': round(p99(timings), 3)})
        pooled.extend(timings)
        failed.extend(failed_timings)
        placed.append(count)
    result = {'hosts': size, 'max_fill': args.max_fill, 'decisions_per_run': args.decisions,
              'runs': args.runs, 'placed': placed,
              'p50_ms': round(statistics.median(pooled), 3), 'p99_ms': round(p99(pooled), 3),
              'per_run': per_run}
    if failed:
        result['failed_p50_ms'] = round(statistics.median(failed), 3)
        result['failed_p99_ms'] = round(p99(failed), 3)
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sizes', type=int, nargs='+', default=[1000, 10000])
    parser.add_argument('--runs', type=int, default=3)
    parser.add_argument('--decisions', type=int, default=300)
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--max-fill', type=int, default=6,
                        help='guests already running per host: 0..N (default 6)')
    parser.add_argument('--failures', type=int, default=0,
                        help='weight of a never-fitting request in the stream (of 16)')
    parser.add_argument('--format', choices=('text', 'json'), default='text')
    args = parser.parse_args(argv)
    report = {'machine': machine(), 'command': ' '.join([sys.executable] + sys.argv),
              'results': [bench_size(size, args) for size in args.sizes]}
    if args.format == 'json':
        print(json.dumps(report, indent=2))
        return 0
    info = report['machine']
    print(f"machine: {info['cpu_model']}, {info['cores']} cores, Python {info['python']}")
    print(f"command: {report['command']}")
    for result in report['results']:
        runs = ', '.join(f"{r['p50_ms']}/{r['p99_ms']}" for r in result['per_run'])
        print(f"{result['hosts']:>6} hosts (0-{result['max_fill']} guests each): "
              f"p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms per placed decision "
              f"({result['runs']} runs x {result['decisions_per_run']} decisions; "
              f"per run p50/p99: {runs}; placed {result['placed']})")
        if 'failed_p50_ms' in result:
            print(f"{'':>6}        failed decisions (NoValidHost + explanation): "
                  f"p50 {result['failed_p50_ms']} ms, p99 {result['failed_p99_ms']} ms")
    return 0


if __name__ == '__main__':
    sys.exit(main())
