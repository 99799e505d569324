"""Fleet loading benchmark: reading a fleet file and building the scheduler's view.

For each size a generated fleet file (benchmarks/generate_fleet.py; reused
from ``--dir`` when present) is decoded (``load_document``), parsed
(``parse_fleet``: ``HostTopology.from_dict`` per host) and turned into a
``FleetView``; printed are the medians over the runs of the process CPU time
of each step.  With ``--cli`` it also times ``kvmfleet capacity --fleet F
--requests samples/requests.json`` end to end (CPU time of the child).

    python benchmarks/bench_load_fleet.py --sizes 1000 10000 --runs 5 [--cli] [--json]
"""

import argparse
import gc
import json
import os
import pathlib
import statistics
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_placement import machine_line  # noqa: E402
from benchmarks.generate_fleet import generate  # noqa: E402
from scheduler.engine.fleet import FleetView  # noqa: E402
from wire.files import load_document, parse_fleet  # noqa: E402


def fleet_file(size, directory, seed):
    """The path of a generated fleet of ``size`` hosts, written if missing."""
    path = pathlib.Path(directory) / f"cap-fleet-{size}.json"
    if not path.exists():
        path.write_text(json.dumps(generate(size, seed)))
    return path


def cpu_of(function, *args):
    """(result, process CPU seconds) of one call."""
    gc.collect()
    start = time.process_time()
    result = function(*args)
    return result, time.process_time() - start


def cli_cpu(path):
    """CPU seconds (user + system) of one ``kvmfleet capacity`` run on ``path``."""
    before = os.times()
    subprocess.run([str(ROOT / '.venv' / 'bin' / 'kvmfleet'), 'capacity', '--fleet', str(path),
                    '--requests', str(ROOT / 'samples' / 'requests.json')],
                   check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    after = os.times()
    return (after.children_user - before.children_user
            + after.children_system - before.children_system)


def bench_size(size, args):
    path = fleet_file(size, args.dir, args.seed)
    steps = {'decode': [], 'parse': [], 'fleetview': [], 'cli': []}
    for _ in range(args.runs):
        document, seconds = cpu_of(load_document, path)
        steps['decode'].append(seconds)
        hosts, seconds = cpu_of(parse_fleet, document, str(path))
        steps['parse'].append(seconds)
        steps['fleetview'].append(cpu_of(FleetView, hosts)[1])
        if args.cli:
            steps['cli'].append(cli_cpu(path))
        del document, hosts
    return {'hosts': size, 'runs': args.runs,
            **{step: statistics.median(values) for step, values in steps.items() if values}}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sizes', type=int, nargs='+', default=[1000, 10000])
    parser.add_argument('--runs', type=int, default=5)
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--dir', default='/tmp', help='where generated fleet files are kept')
    parser.add_argument('--cli', action='store_true', help='also time kvmfleet capacity')
    parser.add_argument('--json', action='store_true', help='print the report as JSON')
    args = parser.parse_args(argv)
    report = {'results': [bench_size(size, args) for size in args.sizes],
              'command': ' '.join(['benchmarks/bench_load_fleet.py',
                                   *(sys.argv[1:] if argv is None else argv)]),
              'machine': machine_line()}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"{report['command']}\n{report['machine']}; median process CPU seconds")
    for row in report['results']:
        cells = ', '.join(f"{k} {v:.3f} s" for k, v in row.items() if k not in ('hosts', 'runs'))
        print(f"{row['hosts']:>6} hosts ({row['runs']} runs): {cells}")


if __name__ == '__main__':
    main()
