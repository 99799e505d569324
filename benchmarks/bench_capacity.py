"""Capacity benchmark: ``capacity()`` for the sample requests on generated fleets.

For each fleet size one FleetView is built from a generated, partly filled
fleet (benchmarks/generate_fleet.py); then, run after run, the reference
algorithm (every host filled on its own: "before") and ``scheduler.engine.capacity``
("after") answer for every valid request of samples/requests.json, and their
answers are compared.  Printed: the machine, the command, per size the median
process CPU time and wall time of each over the runs, and the ratio.

    python benchmarks/bench_capacity.py --sizes 1000 10000 --runs 3 [--json]
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

from benchmarks.bench_placement import machine  # noqa: E402
from benchmarks.generate_fleet import generate  # noqa: E402
from scheduler.engine import EngineSettings, build_engine  # noqa: E402
from scheduler.engine.capacity import capacity  # noqa: E402
from scheduler.engine.fleet import FleetView  # noqa: E402
from scheduler.specs import parse_request  # noqa: E402
from tests.unit.scheduler.engine.capacity_reference import reference_capacity  # noqa: E402
from wire.errors import InvalidInput  # noqa: E402
from wire.files import parse_fleet  # noqa: E402

SAMPLES = ROOT / 'samples' / 'requests.json'


def sample_specs(path=SAMPLES):
    """The valid requests of the samples file, parsed (the invalid one is skipped)."""
    specs = []
    for raw in json.loads(path.read_text())['requests']:
        try:
            specs.append(parse_request(raw))
        except InvalidInput:
            continue
    return specs


def timed(function, *args):
    """(result, process CPU seconds, wall seconds) of one call."""
    gc.collect()
    cpu, wall = time.process_time(), time.perf_counter()
    result = function(*args)
    return result, time.process_time() - cpu, time.perf_counter() - wall


def bench_size(size, args, specs):
    fleet = FleetView(parse_fleet(generate(size, args.seed)))
    engine = build_engine(EngineSettings())
    runs = {'before': [], 'after': []}
    same = True
    for index in range(max(args.runs, args.before_runs)):
        after, cpu, wall = timed(capacity, specs, fleet, engine)
        runs['after'].append((cpu, wall))
        if index < args.before_runs:
            before, cpu, wall = timed(reference_capacity, specs, fleet, engine)
            runs['before'].append((cpu, wall))
            same = same and before == after
    result = {'hosts': size, 'shapes': len(specs), 'same_answers': same}
    for name, timings in runs.items():
        result[name] = {'runs': len(timings),
                        'cpu_s': round(statistics.median(t[0] for t in timings), 3),
                        'wall_s': round(statistics.median(t[1] for t in timings), 3),
                        'first_wall_s': round(timings[0][1], 3)}
    result['ratio_cpu'] = round(result['before']['cpu_s'] / result['after']['cpu_s'], 1)
    result['fits'] = {r.request: r.fits for r in after}
    return result


def print_table(report):
    info = report['machine']
    print(f"machine: {info['cpu_model']}, {info['cores']} cores, Python {info['python']}")
    print(f"command: {report['command']}")
    print('| hosts | shapes | before: CPU / wall (median) | after: CPU / wall (median) '
          '| before / after (CPU) | same answers |')
    print('|-------|--------|------------------|-----------------|------|------|')
    for r in report['results']:
        before, after = r['before'], r['after']
        print(f"| {r['hosts']:,} | {r['shapes']} "
              f"| {before['cpu_s']} s / {before['wall_s']} s ({before['runs']} runs) "
              f"| {after['cpu_s']} s / {after['wall_s']} s ({after['runs']} runs) "
              f"| {r['ratio_cpu']}x | {'yes' if r['same_answers'] else 'NO'} |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sizes', type=int, nargs='+', default=[1000, 10000])
    parser.add_argument('--runs', type=int, default=5, help='runs of the fast capacity')
    parser.add_argument('--before-runs', type=int, default=3,
                        help='runs of the reference algorithm (about 2 s per 1,000 hosts)')
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--json', action='store_true', help='print the report as JSON')
    args = parser.parse_args(argv)
    if args.runs < 1 or args.before_runs < 1:
        parser.error('--runs and --before-runs must be at least 1')
    specs = sample_specs()
    arguments = sys.argv[1:] if argv is None else list(argv)
    command = ' '.join([sys.executable, 'benchmarks/bench_capacity.py'] + arguments)
    report = {'machine': machine(), 'command': command,
              'results': [bench_size(size, args, specs) for size in args.sizes]}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_table(report)
    return 0 if all(r['same_answers'] for r in report['results']) else 1


if __name__ == '__main__':
    sys.exit(main())
