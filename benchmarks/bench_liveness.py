"""The cost of one scheduler's liveness check when heartbeats live in the store.

Every scheduler runs ``check_hosts`` every ``service_down_time / 6`` seconds
(10 s by default).  It reads (name, generation, enabled, last_heartbeat) of
every host from the store and reloads only the hosts that moved.  This times
that check on a store of N hosts: when nothing moved, and when 1% of the hosts
moved (claims by another scheduler), as median CPU and wall time over runs.

    .venv/bin/python benchmarks/bench_liveness.py [--hosts 10000] [--runs 5]
        [--database-url postgresql+psycopg2://root@127.0.0.1/kvmfleet_test]
"""

import argparse
import json
import pathlib
import statistics
import sys
import tempfile
import time

TOP = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOP))

from benchmarks.bench_placement import machine_line  # noqa: E402
from scheduler.store import Store  # noqa: E402
from scheduler.warm_state import WarmState  # noqa: E402
from tests import busfleet  # noqa: E402
from wire.topology import HostTopology  # noqa: E402


def fill(store, hosts, now):
    for index in range(hosts):
        topology = HostTopology.from_dict(busfleet.host(f"host-{index:05d}")).to_dict()
        store.upsert_host(dict(topology, instances=[]), now=now)


def timed(work):
    cpu, wall = time.process_time(), time.perf_counter()
    work()
    return (time.process_time() - cpu) * 1000, (time.perf_counter() - wall) * 1000


def bump(store, names):
    """Generations moved as another scheduler's claims would move them."""
    from sqlalchemy import update

    from scheduler.store import models
    with store.engine.begin() as conn:
        conn.execute(update(models.Host).where(models.Host.name.in_(names))
                     .values(generation=models.Host.generation + 1))


def run(store, hosts, runs, now):
    state = WarmState(store, down_time=60, clock=lambda: now).load()
    quiet, moved = [], []
    names = [f"host-{index:05d}" for index in range(0, hosts, 100)]
    for _ in range(runs):
        quiet.append(timed(state.follow_store))
        bump(store, names)
        moved.append(timed(state.follow_store))
    return {'quiet': summary(quiet), 'one_percent_moved': summary(moved),
            'moved_hosts': len(names)}


def summary(samples):
    return {'cpu_ms': round(statistics.median(s[0] for s in samples), 2),
            'wall_ms': round(statistics.median(s[1] for s in samples), 2)}


def measure(argv, script, run, runs, description):
    """(args, result): ``run(store, hosts, runs, now)`` on a store filled with --hosts
    hosts (a SQLite file unless --database-url), with the command and the machine."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument('--hosts', type=int, default=10000)
    parser.add_argument('--runs', type=int, default=runs)
    parser.add_argument('--database-url', help='default: a SQLite file in a temporary directory')
    parser.add_argument('--json', action='store_true')
    args = parser.parse_args(argv)
    command = ' '.join([script] + list(sys.argv[1:] if argv is None else argv))
    now = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(args.database_url or f"sqlite:///{tmp}/bench.sqlite").create_schema()
        if store.list_hosts():
            parser.error('the database must be empty (its hosts would be counted)')
        fill(store, args.hosts, now)
        result = dict(run(store, args.hosts, args.runs, now), hosts=args.hosts,
                      database=store.engine.dialect.name, command=command,
                      machine=machine_line())
        store.dispose()
    return args, result


def main(argv=None):
    args, result = measure(argv, 'bench_liveness.py', run, 5, __doc__.splitlines()[0])
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"$ {result['command']}\nmachine: {result['machine']}")
    print(f"{'check':<22}{'CPU ms':>10}{'wall ms':>10}   ({result['hosts']} hosts, "
          f"{result['database']}, median of {args.runs})")
    for label, key in (('nothing moved', 'quiet'),
                       (f"{result['moved_hosts']} hosts moved", 'one_percent_moved')):
        print(f"{label:<22}{result[key]['cpu_ms']:>10}{result[key]['wall_ms']:>10}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
