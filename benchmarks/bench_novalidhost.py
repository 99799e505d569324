"""NoValidHost benchmark: requests that fit nowhere, before and after shapes.

For each fleet size the generated fleet (benchmarks/generate_fleet.py, fuller
hosts: 0..14 guests) is loaded, then run after run a fresh FleetView is
filled further with ``--fill`` decisions of the placement stream (so many
hosts differ), and each never-fitting request of IMPOSSIBLE is placed
``--repeat`` times by the reference engine (every host walked and judged:
"before", tests/unit/scheduler/engine/explain_reference.py) and by the engine
("after"); their explanations are compared.  A decision is one
``Engine.place`` call.  Printed: the machine, the command, per size the p50
and p99 of each (all runs pooled; wall time, and this thread's CPU time), the
median of the per-run p50s, and the ratio.  Each request shape's first
decision also builds the engine's per-shape caches (static verdicts, estimate
order), as in production: that lands in the p99.

    python benchmarks/bench_novalidhost.py --sizes 1000 10000 --runs 3 [--json]
"""

import argparse
import gc
import json
import pathlib
import statistics
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_placement import machine, p99, stream  # noqa: E402
from benchmarks.generate_fleet import generate  # noqa: E402
from scheduler.engine import EngineSettings, build_engine  # noqa: E402
from scheduler.engine.fleet import FleetView  # noqa: E402
from scheduler.specs import parse_request  # noqa: E402
from tests.unit.scheduler.engine.explain_reference import reference_engine  # noqa: E402
from wire.files import parse_fleet  # noqa: E402

PINNED = {'hw:cpu_policy': 'dedicated'}
IMPOSSIBLE = (
    # 40 GiB of 1G pages in one cell (cells have 16): every host, NUMA_CELL_NO_FREE_PAGES.
    {'vcpus': 8, 'memory_mb': 40960, 'extra_specs': dict(PINNED, **{
        'hw:mem_page_size': '1GB'})},
    # More floating vCPUs than any host has shared pCPUs.
    {'vcpus': 64, 'memory_mb': 4096},
    # 3 whole free cores per cell at most after filling: isolate needs 14 in one cell.
    {'vcpus': 14, 'memory_mb': 8192, 'extra_specs': dict(PINNED, **{
        'hw:cpu_thread_policy': 'isolate'})},
    # A physnet no host has.
    {'vcpus': 2, 'memory_mb': 2048, 'ports': [{'vnic_type': 'direct',
                                               'physical_network': 'physnet9'}]},
)


def impossible_specs():
    return [parse_request(dict(raw, name=f'never-{i}')) for i, raw in enumerate(IMPOSSIBLE)]


def filled_view(hosts, decisions, seed):
    """A FleetView of ``hosts`` after ``decisions`` placements of the stream."""
    fleet, engine = FleetView(hosts), build_engine(EngineSettings())
    for spec in stream(decisions, seed):
        placement = engine.place(spec, fleet, [f'{spec.name}-{k}' for k in range(spec.count)])
        group = spec.server_group.name if spec.server_group else None
        for assignment in placement.assignments:
            fleet.apply(assignment, group)
    return fleet


def time_failures(engine, fleet, specs, repeat):
    """([(wall ms, CPU ms) per decision], explanations as dicts); every decision must fail.

    CPU time (of this thread) is reported beside wall time: on a shared machine
    the wall time of a decision also measures the other processes.
    """
    timings, explanations = [], []
    for spec in specs:
        for _ in range(repeat):
            started, cpu = time.perf_counter(), time.thread_time()
            placement = engine.place(spec, fleet, ['x'])
            timings.append(((time.perf_counter() - started) * 1000.0,
                            (time.thread_time() - cpu) * 1000.0))
            if placement.placed:
                raise AssertionError(f"{spec.name} was placed on {placement.assignments}")
        explanations.append(placement.explanation.to_dict())
    return timings, explanations


def bench_size(size, args):
    hosts = parse_fleet(generate(size, args.seed, max_fill=args.max_fill))
    specs = impossible_specs()
    pooled = {'before': [], 'after': []}
    run_p50 = {'before': [], 'after': []}
    same = True
    for run in range(args.runs):
        fleet = filled_view(hosts, args.fill, args.seed + run)
        gc.collect()
        gc.freeze()     # as a long-running scheduler does after loading its view
        answers = {}
        for name, engine in (('before', reference_engine()), ('after', build_engine())):
            timings, answers[name] = time_failures(engine, fleet, specs, args.repeat)
            pooled[name].extend(timings)
            run_p50[name].append(statistics.median(wall for wall, _ in timings))
        gc.unfreeze()
        same = same and answers['before'] == answers['after']
        shapes = len(fleet.shapes().groups())
    result = {'hosts': size, 'shapes_last_run': shapes, 'same_explanations': same,
              'decisions_per_run': len(specs) * args.repeat, 'runs': args.runs}
    for name, timings in pooled.items():
        walls, cpus = [t[0] for t in timings], [t[1] for t in timings]
        result[name] = {'p50_ms': round(statistics.median(walls), 2),
                        'p99_ms': round(p99(walls), 2),
                        'cpu_p50_ms': round(statistics.median(cpus), 2),
                        'cpu_p99_ms': round(p99(cpus), 2),
                        'median_run_p50_ms': round(statistics.median(run_p50[name]), 2)}
    result['ratio_p50'] = round(result['before']['p50_ms'] / result['after']['p50_ms'], 1)
    return result


def print_table(report):
    info = report['machine']
    print(f"machine: {info['cpu_model']}, {info['cores']} cores, Python {info['python']}")
    print(f"command: {report['command']}")
    print('| hosts | shapes | decisions | before p50 / p99 (CPU p50) '
          '| after p50 / p99 (CPU p50) | before / after (p50) | same explanations |')
    print('|-------|--------|-----------|------------------|-----------------|------|------|')
    for r in report['results']:
        before, after = r['before'], r['after']
        print(f"| {r['hosts']:,} | {r['shapes_last_run']} "
              f"| {r['runs']} x {r['decisions_per_run']} "
              f"| {before['p50_ms']} ms / {before['p99_ms']} ms ({before['cpu_p50_ms']} ms) "
              f"| {after['p50_ms']} ms / {after['p99_ms']} ms ({after['cpu_p50_ms']} ms) "
              f"| {r['ratio_p50']}x | {'yes' if r['same_explanations'] else 'NO'} |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sizes', type=int, nargs='+', default=[1000, 10000])
    parser.add_argument('--runs', type=int, default=3)
    parser.add_argument('--repeat', type=int, default=5,
                        help='decisions per impossible request per run')
    parser.add_argument('--fill', type=int, default=300,
                        help='placements of the mixed stream before timing (per run)')
    parser.add_argument('--max-fill', type=int, default=14,
                        help='guests already running per generated host: 0..N')
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--json', action='store_true', help='print the report as JSON')
    args = parser.parse_args(argv)
    if args.runs < 1 or args.repeat < 1:
        parser.error('--runs and --repeat must be at least 1')
    arguments = sys.argv[1:] if argv is None else list(argv)
    command = ' '.join([sys.executable, 'benchmarks/bench_novalidhost.py'] + arguments)
    report = {'machine': machine(), 'command': command,
              'results': [bench_size(size, args) for size in args.sizes]}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_table(report)
    return 0 if all(r['same_explanations'] for r in report['results']) else 1


if __name__ == '__main__':
    sys.exit(main())
