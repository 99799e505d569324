"""The cost of one scrape of the scheduler's /metrics at fleet scale.

Builds the scheduler's warm view of N hosts (2 NUMA cells x 8 dedicated pCPUs,
2 MiB pages, 2 VFs per cell, in 10 aggregates, a pinned instance on every
tenth host) and its metrics registry, then renders the exposition text as a
Prometheus scrape gets it: with only fleet and aggregate totals (what a fleet
above ``[metrics] per_host_gauges_max_hosts`` exports), and with every per-host
and per-cell gauge (the cap raised to N).  Reports median wall and CPU time
of the scrape, the wall time of the snapshot taken under the scheduler lock
(what a scrape costs the decisions), the payload size and the number of
series; the per-host figures also as ratios to the totals-only scrape of the
same run.

    .venv/bin/python benchmarks/bench_metrics.py [--hosts 10000] [--runs 5] [--json]
"""

import argparse
import json
import pathlib
import statistics
import sys
import threading
import time
import types

TOP = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOP))

import prometheus_client  # noqa: E402

from benchmarks.bench_placement import machine_line  # noqa: E402
from scheduler.engine import build_engine  # noqa: E402
from scheduler.engine.fleet import FleetView  # noqa: E402
from scheduler.metrics import GaugeSettings, SchedulerMetrics, manager_snapshot  # noqa: E402
from scheduler.specs import parse_request  # noqa: E402
from tests import busfleet  # noqa: E402
from wire.topology import HostTopology  # noqa: E402

AGGREGATES = 10


def fleet_of(hosts):
    """A FleetView of ``hosts`` hosts, a pinned instance on every tenth one."""
    topologies = []
    for index in range(hosts):
        host = dict(busfleet.host(f"host-{index:05d}"),
                    aggregates={f"agg-{index % AGGREGATES}": {}})
        topologies.append(HostTopology.from_dict(host))
    fleet = FleetView(topologies)
    engine, spec = build_engine(), parse_request(busfleet.PINNED)
    for state in list(fleet.hosts())[::10]:
        [assignment] = engine.place(spec, FleetView([state.topology]),
                                    [f"vm-{state.name}"]).assignments
        fleet.apply(assignment)
    return fleet


def manager_of(fleet):
    """What FleetCollector reads of a SchedulerManager: its lock and warm state."""
    names = [state.name for state in fleet.hosts()]
    state = types.SimpleNamespace(fleet=fleet, up=dict.fromkeys(names, True),
                                  enabled=dict.fromkeys(names, True))
    return types.SimpleNamespace(lock=threading.RLock(), state=state)


def measure(manager, settings, runs):
    metrics = SchedulerMetrics()
    metrics.watch(manager, settings)
    snapshot = manager_snapshot(manager)
    scrapes, cpu, snapshots, payload = [], [], [], b''
    for _ in range(runs):
        started = time.perf_counter()
        snapshot()
        snapshots.append(time.perf_counter() - started)
        started, cpu_started = time.perf_counter(), time.process_time()
        payload = prometheus_client.generate_latest(metrics.registry)
        scrapes.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
    series = sum(1 for line in payload.splitlines() if line and not line.startswith(b'#'))
    return {'scrape_ms': round(statistics.median(scrapes) * 1000, 2),
            'scrape_cpu_ms': round(statistics.median(cpu) * 1000, 2),
            'snapshot_ms': round(statistics.median(snapshots) * 1000, 3),
            'payload_bytes': len(payload), 'series': series}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--hosts', type=int, default=10000)
    parser.add_argument('--runs', type=int, default=5)
    parser.add_argument('--json', action='store_true')
    args = parser.parse_args(argv)
    command = ' '.join(['bench_metrics.py'] + list(sys.argv[1:] if argv is None else argv))
    manager = manager_of(fleet_of(args.hosts))
    totals = measure(manager, GaugeSettings(per_host=False), args.runs)
    per_host = measure(manager, GaugeSettings(max_hosts=args.hosts), args.runs)
    result = {'hosts': args.hosts, 'runs': args.runs, 'totals_only': totals,
              'per_host': per_host, 'command': command, 'machine': machine_line(),
              'ratios': {key: round(per_host[key] / max(totals[key], 1e-9), 1)
                         for key in ('scrape_cpu_ms', 'payload_bytes', 'series')}}
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"$ {command}\nmachine: {result['machine']}")
    print(f"{'scrape':<14}{'wall ms':>9}{'CPU ms':>9}{'lock ms':>9}{'bytes':>11}"
          f"{'series':>9}   ({args.hosts} hosts, median of {args.runs})")
    for label, key in (('totals only', 'totals_only'), ('per host', 'per_host')):
        row = result[key]
        print(f"{label:<14}{row['scrape_ms']:>9}{row['scrape_cpu_ms']:>9}"
              f"{row['snapshot_ms']:>9}{row['payload_bytes']:>11}{row['series']:>9}")
    ratios = result['ratios']
    print(f"per host / totals only: {ratios['scrape_cpu_ms']}x CPU, {ratios['payload_bytes']}x "
          f"bytes, {ratios['series']}x series")
    return 0


if __name__ == '__main__':
    sys.exit(main())
