"""Memory benchmark: what a big fleet costs, and whether decisions keep their speed.

Three parts, each printing the machine, the command, medians and p99:

``simulate``   peak RSS (the child's ru_maxrss) of ``kvmfleet simulate`` on a
               generated fleet (benchmarks/generate_fleet.py) with the mixed
               request stream of bench_placement.py, one child per run; also
               the decision p50/p99 that simulate reports.
``service``    RSS of the real ``kvmfleet-scheduler`` process on the real
               RabbitMQ (a private vhost, SQLite store) with N hosts in its
               store: once started, after a few boots, then while the N
               simulated hosts (``kvmfleet-agent --simulate-fleet``, one
               process) report for a while, sampled several times.
``decisions``  decision p50/p99 of the engine at each fleet size on the same
               request stream (bench_placement.run_once), runs interleaved
               between sizes, and the ratio of each size's p50 to the first's.

    python benchmarks/bench_memory.py simulate --hosts 100000 --runs 3
    python benchmarks/bench_memory.py service --hosts 10000
    python benchmarks/bench_memory.py decisions --sizes 1000 100000 --runs 3
"""

import argparse
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

TOP = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOP))

from benchmarks.bench_placement import STREAM, machine_line, p99, run_once  # noqa: E402
from benchmarks.bench_placement import stream as spec_stream  # noqa: E402
from benchmarks.generate_fleet import generate  # noqa: E402

MIB = 1024 * 1024


def fleet_file(size, directory, seed):
    """A generated fleet file of ``size`` hosts in ``directory`` (written when missing)."""
    path = pathlib.Path(directory) / f"mem-fleet-{size}-{seed}.json"
    if not path.exists():
        path.write_text(json.dumps(generate(size, seed)))
    return path


def request_file(decisions, directory, seed):
    """The mixed stream of bench_placement.py as a request file."""
    import random
    rng = random.Random(seed)
    shapes = [raw for weight, raw in STREAM for _ in range(weight)]
    path = pathlib.Path(directory) / f"mem-requests-{decisions}-{seed}.json"
    path.write_text(json.dumps({'version': 1, 'requests': [
        dict(rng.choice(shapes), name=f"bench-{i}") for i in range(decisions)]}))
    return path


def child_peak(command):
    """(peak RSS in MiB of the finished child, its stdout)."""
    with tempfile.TemporaryFile() as out:
        env = dict(os.environ, PYTHONPATH=str(TOP))     # this checkout's code
        child = subprocess.Popen(command, stdout=out, stderr=subprocess.DEVNULL, env=env,
                                 cwd=TOP)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode:
            raise RuntimeError(f"{' '.join(command)} exited {child.returncode}")
        out.seek(0)
        return usage.ru_maxrss / 1024, out.read()


def bench_simulate(args):
    fleet = fleet_file(args.hosts, args.dir, args.seed)
    requests = request_file(args.decisions, args.dir, args.seed)
    command = [sys.executable, '-m', 'scheduler.cmd.cli', 'simulate', '--fleet', str(fleet),
               '--requests', str(requests), '-f', 'json']
    peaks, p50s, p99s = [], [], []
    for _ in range(args.runs):
        peak, out = child_peak(command)
        summary = json.loads(out)['summary']
        peaks.append(peak)
        p50s.append(summary['decision_p50_ms'])
        p99s.append(summary['decision_p99_ms'])
    return {'part': 'simulate', 'hosts': args.hosts, 'decisions': args.decisions,
            'runs': args.runs, 'fleet_file_mib': round(fleet.stat().st_size / MIB, 1),
            'simulate_command': ' '.join(command),
            'peak_rss_mib': _stats(peaks), 'decision_p50_ms': round(statistics.median(p50s), 3),
            'decision_p99_ms': round(statistics.median(p99s), 3)}


def _stats(values):
    return {'median': round(statistics.median(values), 1), 'max': round(max(values), 1),
            'runs': [round(v, 1) for v in values]}


def process_memory(pid):
    """{'rss': MiB, 'hwm': MiB} of a running process (/proc/PID/status)."""
    found = {}
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(':')
        if key in ('VmRSS', 'VmHWM'):
            found[key[2:].lower()] = int(value.split()[0]) / 1024
    return found


def bench_service(args):
    from benchmarks.bench_bus import start_agent_process
    from tests import busfleet
    from tests.functional.bus_stack import Stack
    workdir = pathlib.Path(tempfile.mkdtemp(prefix='kvmfleet-bench-memory-', dir=args.dir))
    stack = Stack(workdir, busfleet.fleet(args.hosts, prefix='mem'), report_interval=60,
                  down_time=3600, grace=3600, on_change=False, hosts_per_connection=100)
    stack.create_vhost()
    agent, result = None, {'part': 'service', 'hosts': args.hosts}
    try:
        stack.sync_database()
        known(stack, args.hosts)
        stack.start_scheduler(sync=False)
        stack.wait_scheduler(timeout=args.timeout)
        result['loaded'] = _samples(stack.scheduler.pid, 1)
        api = stack.api(timeout=args.timeout)
        for index in range(args.boots):     # the hosts are up: their stored heartbeats
            api.boot(busfleet.request(busfleet.MIXED[index % len(busfleet.MIXED)],
                                      name=f"mem-{index}"))
        result['boots'] = args.boots
        result['after_boots'] = _samples(stack.scheduler.pid, 1)
        agent = start_agent_process(stack)
        time.sleep(args.report_for)       # every host reports (report_interval 60 s)
        result['reported'] = _samples(stack.scheduler.pid, args.samples)
        result['reports_refused_late'] = late_reports(stack)
    finally:
        if agent is not None:
            stop(agent)
        stack.close()
        shutil.rmtree(workdir, ignore_errors=True)
    return result


def stop(process):
    process.terminate()
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:     # 10,000 simulated hosts stop slowly
        process.kill()
        process.wait()


def known(stack, count):
    """Every host already in the store, with a fresh heartbeat: the scheduler starts
    with the whole fleet (as after a restart) instead of taking 10,000 first reports
    at once, which this 2-core machine cannot answer before they go stale."""
    from wire.topology import HostTopology
    store, now = stack.store(), time.time()
    for host in json.loads(stack.fleet_path.read_text())['hosts'][:count]:
        store.upsert_host(dict(HostTopology.from_dict(host).to_dict(), instances=[]), now=now)
    store.engine.dispose()


def late_reports(stack):
    """Reports the scheduler refused because they waited in its queue too long."""
    log = stack.workdir / 'scheduler.log'
    return log.read_text().count('report_host rejected') if log.exists() else 0


def _samples(pid, count):
    rss, hwm = [], 0.0
    for _ in range(count):
        memory = process_memory(pid)
        rss.append(memory['rss'])
        hwm = max(hwm, memory['hwm'])
        time.sleep(1)
    return {'rss_mib': _stats(rss), 'peak_hwm_mib': round(hwm, 1)}


def bench_decisions(args):
    from wire.files import parse_fleet
    specs = spec_stream(args.decisions, args.seed)
    fleets = {size: parse_fleet(generate(size, args.seed)) for size in args.sizes}
    timings = {size: [] for size in args.sizes}
    per_run = {size: [] for size in args.sizes}
    for _ in range(args.runs):
        for size in args.sizes:     # interleaved: a busy minute hits every size alike
            placed_ms, _, _ = run_once(fleets[size], specs, _settings())
            timings[size].extend(placed_ms)
            per_run[size].append(round(statistics.median(placed_ms), 3))
    base = statistics.median(timings[args.sizes[0]])
    return {'part': 'decisions', 'decisions_per_run': args.decisions, 'runs': args.runs,
            'sizes': [{'hosts': size, 'p50_ms': round(statistics.median(timings[size]), 3),
                       'p99_ms': round(p99(timings[size]), 3), 'per_run_p50_ms': per_run[size],
                       'p50_ratio': round(statistics.median(timings[size]) / base, 2)}
                      for size in args.sizes]}


def _settings():
    from scheduler.engine import EngineSettings
    return EngineSettings()


def parser_of():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parts = parser.add_subparsers(dest='part', required=True)
    simulate = parts.add_parser('simulate', help='peak RSS of kvmfleet simulate')
    simulate.add_argument('--hosts', type=int, default=100000)
    simulate.add_argument('--decisions', type=int, default=200)
    simulate.add_argument('--runs', type=int, default=3)
    service = parts.add_parser('service', help='RSS of the scheduler service')
    service.add_argument('--hosts', type=int, default=10000)
    service.add_argument('--boots', type=int, default=100)
    service.add_argument('--samples', type=int, default=5, help='RSS samples, 1 s apart')
    service.add_argument('--report-for', type=int, default=120,
                         help='seconds the hosts report before RSS is sampled')
    service.add_argument('--timeout', type=int, default=600,
                         help='seconds to wait for the scheduler to start or answer')
    decisions = parts.add_parser('decisions', help='decision p50/p99 per fleet size')
    decisions.add_argument('--sizes', type=int, nargs='+', default=[1000, 100000])
    decisions.add_argument('--decisions', type=int, default=300)
    decisions.add_argument('--runs', type=int, default=3)
    for part in (simulate, service, decisions):
        part.add_argument('--seed', type=int, default=1)
        part.add_argument('--dir', default='/var/tmp', help='where generated files go')
        part.add_argument('--json', action='store_true')
    return parser


PARTS = {'simulate': bench_simulate, 'service': bench_service, 'decisions': bench_decisions}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parser_of().parse_args(argv)
    report = {'machine': machine_line(),
              'command': ' '.join([sys.executable, 'benchmarks/bench_memory.py', *argv]),
              **PARTS[args.part](args)}
    if args.json:
        print(json.dumps(report))
        return 0
    for key, value in report.items():
        print(f"{key:>16}: {value}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
