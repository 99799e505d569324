"""The work of the services without the bus: CPU per boot, per build and per host report.

``bench_bus.py`` measures a boot through RabbitMQ, ``bench_bus_floor.py`` the
messages alone; this measures what is left, in one process with no broker:

* scheduler boot: ``SchedulerManager.boot`` (parse, place on the warm view of
  N hosts, claim in a SQLite store, BUILDING answer) plus its share of
  ``instance_updates`` committing the agents' ACTIVE results;
* agent build: ``AgentManager.build_instance`` of a simulated host (verify
  against its libvirt test-driver domains, domain XML, files, define, start);
* host report: ``SchedulerManager.report_host`` of a host holding instances
  (store write, reconciliation against its claims).

Each figure is the median over ``--runs`` of process CPU time per item.

``--storm``: instead, how long a boot waits while ``--reporters`` threads (the
RPC executor's, as in the chaos suite's stall: 56 of 64 in report_host) work
host reports of ``--storm-hosts`` hosts, each every ``--storm-interval``
seconds: boot latency median, p99 and max (wall clock), and the reports worked
per second.

    .venv/bin/python benchmarks/bench_service_work.py [--hosts 1000] [--boots 2000] [--runs 3]
    .venv/bin/python benchmarks/bench_service_work.py --storm [--hosts 1000] [--boots 300]
"""

import argparse
import json
import os
import pathlib
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid as uuidlib

TOP = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOP))

from agent.updates import MAX_BATCH  # noqa: E402
from benchmarks.bench_placement import machine_line  # noqa: E402
from tests import busfleet  # noqa: E402


class NoAgents:
    """The scheduler's AgentAPI, minus the bus."""

    def build_instance(self, *args, **kwargs):
        pass

    def delete_instance(self, *args, **kwargs):
        pass


class NoScheduler:
    """The agent's scheduler API, minus the bus."""

    def instance_update(self, *args, **kwargs):
        pass

    def report_host(self, *args, **kwargs):
        pass


def cpu_per_item(work, items):
    started = time.process_time()
    work()
    return (time.process_time() - started) * 1000 / items


def scheduler_with_fleet(workdir, hosts):
    from scheduler.engine import build_engine
    from scheduler.manager import SchedulerManager
    from scheduler.store import Store
    store = Store(f"sqlite:///{workdir}/kvmfleet.sqlite").create_schema()
    manager = SchedulerManager(store, build_engine(), NoAgents())
    fleet = busfleet.fleet(hosts, prefix='sim')
    for host in fleet:
        manager.report_host({}, host=host, instances=[])
    return manager, {host['name']: host for host in fleet}


def boot_many(manager, count, offset):
    """``count`` mixed boots, then their results; {host: [domain]} of what was booted."""
    domains = {}
    for index in range(count):
        template = busfleet.MIXED[index % len(busfleet.MIXED)]
        answer = manager.boot({}, request=dict(template, name=f"w{offset + index}"))
        record = answer['instances'][0]
        domains.setdefault(record['host'], []).append({'uuid': record['uuid'],
                                                       'state': 'running'})
    results = [{'instance': d['uuid'], 'host': host, 'state': 'ACTIVE'}
               for host, booted in domains.items() for d in booted]
    for start in range(0, len(results), MAX_BATCH):     # batches as the agent sends them
        manager.instance_updates({}, updates=results[start:start + MAX_BATCH])
    manager.cast_marks.flush()     # as the service does every second
    return domains


def scheduler_run(hosts, boots):
    workdir = tempfile.mkdtemp(prefix='kvmfleet-work-', dir='/var/tmp')
    try:
        manager, by_name = scheduler_with_fleet(workdir, hosts)
        boot_many(manager, min(200, boots // 5), 0)   # warm caches and the store
        domains = {}
        boot_ms = cpu_per_item(lambda: domains.update(boot_many(manager, boots, 1000)), boots)
        names = list(domains)[:300]
        report_ms = cpu_per_item(lambda: [manager.report_host({}, host=by_name[n],
                                                              instances=domains[n])
                                          for n in names], len(names))
        held = statistics.mean(len(domains[n]) for n in names)
        manager.store.dispose()
        return boot_ms, report_ms, held
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def agent_run(builds, hosts=50):
    from agent import simulated
    from scheduler.engine import build_engine
    from scheduler.engine.fleet import FleetView
    from scheduler.specs import parse_request
    from wire.topology import HostTopology
    workdir = tempfile.mkdtemp(prefix='kvmfleet-work-', dir='/var/tmp')
    try:
        fleet_hosts = busfleet.fleet(hosts, prefix='sim')
        fleet_path = pathlib.Path(workdir) / 'fleet.json'
        fleet_path.write_text(json.dumps({'version': 1, 'hosts': fleet_hosts}))
        managers, _ = simulated.build_fleet(str(fleet_path), NoScheduler(),
                                            path=os.path.join(workdir, 'sim'))
        by_host = {m.host_name: m for m in managers}
        fleet = FleetView([HostTopology.from_dict(h) for h in fleet_hosts])
        engine, work = build_engine(), []
        for index in range(builds):
            request = dict(busfleet.MIXED[index % len(busfleet.MIXED)], name=f"a{index}")
            spec = parse_request(request)
            placed = engine.place(spec, fleet, [str(uuidlib.uuid4())]).assignments[0]
            fleet.apply(placed)
            work.append((placed, spec.to_dict(), request))

        def build_all():
            for placed, spec, request in work:
                by_host[placed.host].build_instance(
                    {'host': placed.host}, instance=placed.instance, name=request['name'],
                    assignment=placed.to_dict(), spec=spec, request=request)
        return cpu_per_item(build_all, builds)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def report_storm(manager, reports, interval, stop, worked):
    """Work ``reports`` [(host, domains)] each every ``interval`` s until ``stop``."""
    while not stop.is_set():
        started = time.monotonic()
        for host, domains in reports:
            manager.report_host({}, host=host, instances=domains)
            worked.append(1)
            if stop.is_set():
                return
        stop.wait(max(0.0, interval - (time.monotonic() - started)))


def storm_run(hosts, boots, reporters, storm_hosts, interval):
    """Boot latencies (s) while ``reporters`` threads work a report storm; reports/s."""
    workdir = tempfile.mkdtemp(prefix='kvmfleet-storm-', dir='/var/tmp')
    try:
        manager, by_name = scheduler_with_fleet(workdir, hosts)
        domains = boot_many(manager, min(200, hosts), 0)    # reports reconcile held claims
        names = list(by_name)[:storm_hosts]
        reports = [(by_name[n], domains.get(n, [])) for n in names]
        stop, worked, latencies = threading.Event(), [], []
        threads = [threading.Thread(target=report_storm, daemon=True,
                                    args=(manager, reports[i::reporters], interval, stop,
                                          worked))
                   for i in range(reporters)]
        for thread in threads:
            thread.start()
        time.sleep(interval * 2)        # the storm builds up
        started_storm, done_before = time.monotonic(), len(worked)
        for index in range(boots):
            template = busfleet.MIXED[index % len(busfleet.MIXED)]
            started = time.monotonic()
            manager.boot({}, request=dict(template, name=f"s{index}"))
            latencies.append(time.monotonic() - started)
        rate = (len(worked) - done_before) / (time.monotonic() - started_storm)
        stop.set()
        for thread in threads:
            thread.join(60)
        manager.store.dispose()
        return latencies, rate
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def storm_main(args, argv):
    runs = []
    for index in range(args.runs):
        latencies, rate = storm_run(args.hosts, args.boots, args.reporters, args.storm_hosts,
                                    args.storm_interval)
        runs.append({'boot_median_ms': statistics.median(latencies) * 1000,
                     'boot_p99_ms': percentile(latencies, 0.99) * 1000,
                     'boot_max_ms': max(latencies) * 1000, 'reports_per_s': rate})
        print(f"run {index + 1}/{args.runs}: " + ', '.join(
            f"{k} {v:.1f}" for k, v in runs[-1].items()), file=sys.stderr, flush=True)
    result = {key: round(statistics.median(r[key] for r in runs), 1) for key in runs[0]}
    result.update(hosts=args.hosts, boots=args.boots, reporters=args.reporters,
                  storm_hosts=args.storm_hosts, storm_interval=args.storm_interval,
                  runs=args.runs, command=' '.join(['benchmarks/bench_service_work.py',
                                                    *(sys.argv[1:] if argv is None else argv)]),
                  machine=machine_line())
    if args.json:
        print(json.dumps(result))
        return
    print(f"boots during a report storm: {args.reporters} threads reporting "
          f"{args.storm_hosts} hosts every {args.storm_interval:g} s (median of {args.runs} runs)")
    for key, label in (('boot_median_ms', 'boot latency median (ms)'),
                       ('boot_p99_ms', 'boot latency p99 (ms)'),
                       ('boot_max_ms', 'boot latency max (ms)'),
                       ('reports_per_s', 'report calls answered per second')):
        print(f"{label:<44} {result[key]:.1f}")
    print(f"command: {result['command']}\nmachine: {result['machine']}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--hosts', type=int, default=1000)
    parser.add_argument('--boots', type=int, default=2000)
    parser.add_argument('--builds', type=int, default=300)
    parser.add_argument('--runs', type=int, default=3)
    parser.add_argument('--json', action='store_true')
    parser.add_argument('--storm', action='store_true',
                        help='boot latency during a report storm (see the module doc)')
    parser.add_argument('--reporters', type=int, default=56)
    parser.add_argument('--storm-hosts', type=int, default=240)
    parser.add_argument('--storm-interval', type=float, default=1.0)
    args = parser.parse_args(argv)
    if args.storm:
        storm_main(args, argv)
        return
    runs = []
    for index in range(args.runs):
        boot_ms, report_ms, held = scheduler_run(args.hosts, args.boots)
        runs.append({'scheduler_boot_ms': boot_ms, 'host_report_ms': report_ms,
                     'agent_build_ms': agent_run(args.builds), 'held': held})
        print(f"run {index + 1}/{args.runs}: " + ', '.join(
            f"{k} {v:.3f}" for k, v in runs[-1].items()), file=sys.stderr, flush=True)
    result = {key: round(statistics.median(r[key] for r in runs), 3) for key in runs[0]}
    result.update(hosts=args.hosts, boots=args.boots, builds=args.builds, runs=args.runs,
                  command=' '.join(['benchmarks/bench_service_work.py',
                                    *(sys.argv[1:] if argv is None else argv)]),
                  machine=machine_line())
    if args.json:
        print(json.dumps(result))
        return
    print(f"{'CPU ms per item (median of ' + str(args.runs) + ' runs)':<44} value")
    for key, label in (('scheduler_boot_ms', 'scheduler: boot + its result'),
                       ('agent_build_ms', 'agent: build on a simulated host'),
                       ('host_report_ms', f"scheduler: host report ({result['held']:.1f} "
                                          'instances held)')):
        print(f"{label:<44} {result[key]:.3f}")
    print(f"command: {result['command']}\nmachine: {result['machine']}")


if __name__ == '__main__':
    main()
