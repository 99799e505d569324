"""Boots per second over RabbitMQ: one scheduler, N simulated hosts, concurrent clients.

The real ``kvmfleet-scheduler`` and ``kvmfleet-agent --simulate-fleet`` run as
processes on a private RabbitMQ vhost with a SQLite store; client processes
call ``boot`` (mixed pinned / 2M-hugepage / SR-IOV / floating requests) as
fast as the scheduler answers.  A boot is counted when its answer arrives:
parsed, placed by the engine, claimed in the store and cast to the agent.
The run then waits until every instance is ACTIVE (the agents built real
domain XML on libvirt's test driver and reported back).

    .venv/bin/python benchmarks/bench_bus.py [--hosts 1000] [--boots 3000] [--clients 4]

``--schedulers N`` (N > 1) runs N schedulers on one PostgreSQL store under a mixed
load of boots and deletes instead (benchmarks/bench_bus_schedulers.py).

Needs RabbitMQ on 127.0.0.1:5672 and rabbitmqctl (tools/setup-host.sh).
"""

import argparse
import json
import multiprocessing
import os
import pathlib
import shutil
import statistics
import sys
import tempfile
import time

TOP = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOP))
POSTGRES_URL = 'postgresql+psycopg2://root@127.0.0.1:5432/kvmfleet_test'


def client_worker(url, client, count, results, per_call=1, go=None):
    """Boot ``count`` mixed requests; put latencies, uuids, failures, own CPU on ``results``."""
    from oslo_config import cfg

    from tests import busfleet
    from wire import rpc, scheduler_rpcapi
    cfg.CONF.set_override('transport_url', url)
    api = scheduler_rpcapi.SchedulerAPI(timeout=60)
    api.list(state='ERROR')            # warm the connection before the clock starts
    results.put(('ready', client))
    if go is not None:
        go.wait()                      # every client starts when the clock does
    cpu_start = _own_cpu()
    latencies, uuids, failures = [], [], 0
    for index in range(count):
        template = busfleet.MIXED[index % len(busfleet.MIXED)]
        started = time.perf_counter()
        try:
            request = dict(template, name=f"b{client}-{index}")
            if per_call > 1:
                request['count'] = per_call
            answer = api.boot(request)
            uuids.extend(i['uuid'] for i in answer['instances'])
        except rpc.BusError:
            failures += 1
        latencies.append(time.perf_counter() - started)
    results.put(('done', client, latencies, uuids, failures, _own_cpu() - cpu_start))


def _own_cpu():
    times = os.times()
    return times.user + times.system


def process_cpu(pid):
    """User + system CPU seconds of process ``pid`` so far (from /proc)."""
    fields = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def broker_pid():
    import subprocess
    found = subprocess.run(['pgrep', '-o', '-f', 'beam.smp'], capture_output=True, text=True)
    return int(found.stdout.split()[0]) if found.stdout.strip() else None


def run_clients(url, clients, boots, per_call=1, watched=()):
    context = multiprocessing.get_context('spawn')   # no broker connection crosses a fork
    results, go = context.Queue(), context.Event()
    per_client = boots // clients // per_call
    workers = [context.Process(target=client_worker,
                               args=(url, c, per_client, results, per_call, go))
               for c in range(clients)]
    for worker in workers:
        worker.start()
    for _ in workers:
        assert results.get(timeout=120)[0] == 'ready'
    cpu_before = {name: process_cpu(pid) for name, pid in watched}
    started = time.perf_counter()
    go.set()
    done = [results.get(timeout=600) for _ in workers]
    elapsed = time.perf_counter() - started
    cpu = {name: process_cpu(pid) - cpu_before[name] for name, pid in watched}
    cpu['clients'] = sum(d[5] for d in done)
    for worker in workers:
        worker.join(30)
    latencies = sorted(x for d in done for x in d[2])
    return elapsed, latencies, [u for d in done for u in d[3]], sum(d[4] for d in done), cpu


def percentile(values, fraction):
    return values[min(len(values) - 1, int(len(values) * fraction))]


def wait_active(stack, uuids, timeout=600, interval=2.0):
    """Until no instance is BUILDING: asking for those alone, every ``interval`` seconds
    (each poll lists every instance still building, which the scheduler's CPU counts)."""
    from wire import scheduler_rpcapi
    api, deadline = scheduler_rpcapi.SchedulerAPI(timeout=60), time.monotonic() + timeout
    while time.monotonic() < deadline:
        building = len(api.list(state='BUILDING')['instances'])
        if not building:
            return
        time.sleep(interval)
    raise RuntimeError(f"{building} instances still building after {timeout}s")


def final_states(stack):
    from wire import scheduler_rpcapi
    states = {}
    for record in scheduler_rpcapi.SchedulerAPI(timeout=60).list()['instances']:
        states[record['state']] = states.get(record['state'], 0) + 1
    return states


def start_agent_process(stack):
    import subprocess
    return subprocess.Popen(
        [str(pathlib.Path(sys.executable).parent / 'kvmfleet-agent'), '--config-file',
         str(stack.config), '--simulate-fleet', str(stack.fleet_path)],
        stdout=subprocess.DEVNULL, stderr=open(stack.workdir / 'agent.err', 'a'))


def extra_config(args):
    text = ''
    if args.executor_threads:
        text += f"[DEFAULT]\nexecutor_thread_pool_size = {args.executor_threads}\n"
    if args.hosts_per_connection:
        text += f"[agent]\nsimulated_hosts_per_connection = {args.hosts_per_connection}\n"
    if args.notifications == 'on':     # off by default in the services themselves
        text += '[oslo_messaging_notifications]\ndriver = messagingv2\n'
    if args.signing == 'off':    # no keys anywhere: nothing signed, nothing checked
        text += '[signing]\nrequired = false\n' + ''.join(
            f"{option} = {args.workdir}/no-such-key-{option}\n"
            for option in ('scheduler_private_key', 'enrolled_hosts_dir',
                           'agent_private_key', 'trusted_schedulers_dir'))
    return text


def schedulers_cpu(processes):
    return sum(process_cpu(p.pid) for p in processes)


def settle(processes, most_s, quiet_cores=0.15):
    """Wait (``most_s`` at most) until the schedulers use under ``quiet_cores`` over a
    second: a starting scheduler asks every agent to report, and that wave passes."""
    deadline = time.monotonic() + most_s
    while time.monotonic() < deadline and idle_cpu_per_s(processes, 1.0) > quiet_cores:
        pass


def idle_cpu_per_s(processes, seconds):
    """The schedulers' CPU seconds per second with no boot (heartbeats, liveness checks)."""
    if seconds <= 0:
        return 0.0
    before, started = schedulers_cpu(processes), time.perf_counter()
    time.sleep(seconds)
    return (schedulers_cpu(processes) - before) / (time.perf_counter() - started)


def use_database(stack, url):
    """Point the stack's configuration at ``url`` instead of its SQLite file."""
    stack.config.write_text(stack.config.read_text().replace(
        f"connection = sqlite:///{stack.db}", f"connection = {url}"))


def start_extra_scheduler(stack, index):
    """Scheduler ``index`` (1, 2, ...) beside stack.scheduler: the same database (which
    must be a server database), key and vhost, its own log."""
    import subprocess
    config = stack.workdir / f"scheduler-{index}.conf"
    config.write_text(stack.config.read_text().replace(
        'scheduler.log', f"scheduler-{index}.log"))
    return subprocess.Popen(
        [str(pathlib.Path(sys.executable).parent / 'kvmfleet-scheduler'), '--config-file',
         str(config)], stdout=subprocess.DEVNULL,
        stderr=open(stack.workdir / f"scheduler-{index}.err", 'a'))


def stop_process(process):
    process.terminate()
    try:
        process.wait(30)
    except Exception:
        process.kill()
        process.wait()


def bus_run(args, database=None, schedulers=1):
    """One run of the real services: the result dict that ``--json`` prints.

    ``database``: the schedulers' store URL (default: the stack's SQLite file); more
    than one scheduler needs a server database.  The first scheduler takes every
    host's first report; the others start once the store holds all hosts (they load
    the view from it at start).
    """
    from tests import busfleet
    from tests.functional.bus_stack import Stack
    load_before = os.getloadavg()[0]
    workdir = pathlib.Path(tempfile.mkdtemp(prefix='kvmfleet-bench-bus-', dir=args.workdir))
    stack = Stack(workdir, busfleet.fleet(args.hosts, prefix='sim'),
                  report_interval=args.report_interval, down_time=10 * args.report_interval,
                  grace=600, on_change=False, hosts_per_connection=100,
                  extra_config=extra_config(args))
    if database:
        use_database(stack, database)
    stack.create_vhost()
    agent, extra = None, []
    try:
        stack.start_scheduler()
        stack.wait_scheduler()     # an agent's first reports must find the scheduler's queue
        agent = start_agent_process(stack)
        t0 = time.perf_counter()
        stack.wait_hosts_up(timeout=300)
        hosts_up_s = time.perf_counter() - t0
        extra = [start_extra_scheduler(stack, index) for index in range(1, schedulers)]
        if extra:
            stack.wait_scheduler()
        processes = [stack.scheduler, *extra]
        settle(processes, args.settle)
        watched = [('scheduler', stack.scheduler.pid), ('agent', agent.pid),
                   ('broker', broker_pid())]
        watched += [(f"scheduler-{index}", p.pid) for index, p in enumerate(extra, 1)]
        before = schedulers_cpu(processes)
        elapsed, latencies, uuids, failures, cpu = run_clients(
            stack.url, args.clients, args.boots, args.count,
            [(name, pid) for name, pid in watched if pid])
        t1 = time.perf_counter()
        wait_active(stack, uuids)
        all_active_s = elapsed + time.perf_counter() - t1
        to_active_cpu = schedulers_cpu(processes) - before
        idle_per_s = idle_cpu_per_s(processes, args.idle_seconds)
        states = final_states(stack)
    finally:
        for process in extra:
            stop_process(process)
        if agent is not None:
            agent.terminate()
            agent.wait(60)
        stack.close()
    shutil.rmtree(workdir, ignore_errors=True)
    for name in [n for n in cpu if n.startswith('scheduler-')]:   # the schedulers' sum
        cpu['scheduler'] += cpu.pop(name)
    return {
        'hosts': args.hosts, 'boot_calls': len(latencies), 'instances': len(uuids),
        'count_per_call': args.count, 'clients': args.clients, 'schedulers': schedulers,
        'database': 'sqlite' if not database else database.split(':', 1)[0],
        'boots_per_s': round(len(uuids) / elapsed, 1),
        'p50_ms': round(statistics.median(latencies) * 1000, 2),
        'p99_ms': round(percentile(latencies, 0.99) * 1000, 2),
        'no_valid_host': failures, 'final_states': states,
        'all_active_per_s': round(len(uuids) / all_active_s, 1),
        'hosts_up_s': round(hosts_up_s, 1), 'cpus': os.cpu_count(), 'workdir': args.workdir,
        'cpu_ms_per_boot': {name: round(seconds * 1000 / len(uuids), 2)
                            for name, seconds in cpu.items()},
        # from the clients' start until every instance is ACTIVE (each result counted),
        # less what the schedulers spend with no boot at all, measured right after
        # (liveness checks, and heartbeats when the report interval lets them in)
        'scheduler_ms_per_boot_to_active': round(to_active_cpu * 1000 / len(uuids), 2),
        'scheduler_idle_ms_per_s': round(idle_per_s * 1000, 1),
        'scheduler_ms_per_boot_net': round(
            (to_active_cpu - idle_per_s * all_active_s) * 1000 / len(uuids), 2),
        'notifications': args.notifications, 'signing': args.signing,
        'executor_threads': args.executor_threads or 64,
        'hosts_per_connection': args.hosts_per_connection or 100,
        # the machine's 1-minute load average when the run started and ended: other
        # work on it inflates every CPU figure (compare runs of one time window)
        'load_avg': [round(load_before, 1), round(os.getloadavg()[0], 1)],
    }


def compare(args):
    """The floor, one scheduler (SQLite; PostgreSQL) and two on PostgreSQL, in one run."""
    from benchmarks.bench_bus_floor import fresh_run
    from benchmarks.bench_placement import machine_line
    from tests.conftest import postgres_schema
    load_before = os.getloadavg()[0]
    floor = fresh_run(args.boots, args.clients)
    rows = [dict(configuration='bus floor (messages only)',
                 load_avg=[round(load_before, 1), round(os.getloadavg()[0], 1)],
                 boots_per_s=round(floor['boots_per_s'], 1), p50_ms=round(floor['p50_ms'], 2),
                 cpu_ms_per_boot={k: round(v, 2) for k, v in floor['cpu_ms_per_boot'].items()})]
    print(f"floor: {rows[0]['boots_per_s']} boots/s", file=sys.stderr, flush=True)
    runs = [('1 scheduler, SQLite', None, 1), ('1 scheduler, PostgreSQL', args.postgres, 1),
            ('2 schedulers, PostgreSQL', args.postgres, 2)]
    for label, database, schedulers in runs:
        if database:
            with postgres_schema(database, 'bench_bus') as url:
                result = bus_run(args, url, schedulers)
        else:
            result = bus_run(args)
        result.update(configuration=label,
                      floor_ratio=round(result['boots_per_s'] / rows[0]['boots_per_s'], 2))
        rows.append(result)
        print(f"{label}: {result['boots_per_s']} boots/s", file=sys.stderr, flush=True)
    return {'rows': rows, 'hosts': args.hosts, 'boots': args.boots, 'clients': args.clients,
            'notifications': args.notifications, 'signing': args.signing,
            'command': ' '.join(['benchmarks/bench_bus.py', *sys.argv[1:]]),
            'machine': machine_line()}


def print_comparison(result):
    print(f"{'':26} {'boots/s':>8} {'/floor':>6} {'ACTIVE/s':>8} {'p50 ms':>7} "
          f"{'sched ms/boot net':>17} {'(gross, idle ms/s)':>19}  CPU ms/boot: "
          'scheduler / agent / RabbitMQ / clients   (load average)')
    for row in result['rows']:
        cpu = row['cpu_ms_per_boot']
        net = (f"{row['scheduler_ms_per_boot_net']:17.2f} "
               f"({row['scheduler_ms_per_boot_to_active']:.2f}, "
               f"{row['scheduler_idle_ms_per_s']:.0f})".ljust(19)
               if 'schedulers' in row else f"{'':17} {'':19}")
        print(f"{row['configuration']:26} {row['boots_per_s']:8.1f} "
              f"{row.get('floor_ratio', 1.0):6.2f} {row.get('all_active_per_s', 0):8.1f} "
              f"{row['p50_ms']:7.1f} {net}  " + ' / '.join(
                  f"{cpu[k]:.2f}" for k in ('scheduler', 'agent', 'broker', 'clients'))
              + '   ({:.1f} -> {:.1f})'.format(*row['load_avg']))
    print(f"notifications: {result['notifications']}, signing: {result['signing']}")
    print(f"command: {result['command']}\nmachine: {result['machine']}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--hosts', type=int, default=1000)
    parser.add_argument('--boots', type=int, default=3000)
    parser.add_argument('--clients', type=int, default=4)
    parser.add_argument('--count', type=int, default=1,
                        help='instances per boot call (multi-create); boots/s counts instances')
    parser.add_argument('--executor-threads', type=int,
                        help='[DEFAULT] executor_thread_pool_size of both services')
    parser.add_argument('--hosts-per-connection', type=int,
                        help='[agent] simulated_hosts_per_connection of the agent process')
    parser.add_argument('--json', action='store_true')
    parser.add_argument('--workdir', default='/var/tmp',
                        help='where the store and the simulated hosts\' files go (the cost '
                             'of creating files there is part of each simulated build)')
    parser.add_argument('--notifications', choices=('on', 'off'), default='off',
                        help='on: [oslo_messaging_notifications] driver = messagingv2 '
                             '(scheduler and agents: two versioned notifications per boot '
                             'from the scheduler, two per build from the agent); off: no '
                             'driver, the services\' default (and this benchmark\'s since '
                             'issue 15)')
    parser.add_argument('--signing', choices=('on', 'off'), default='on',
                        help='off: [signing] required = false and no keys (to measure what '
                             'signing costs; never in production)')
    parser.add_argument('--schedulers', type=int, default=1,
                        help='N > 1: N schedulers on one PostgreSQL store, boots and deletes; '
                             'reports refits and whether their views agree')
    parser.add_argument('--database-url',
                        help='with --schedulers: the PostgreSQL database (a private schema '
                             'is made in it)')
    parser.add_argument('--host-subset-size', type=int,
                        help='with --schedulers: [filter_scheduler] host_subset_size of the '
                             'schedulers (default: the option\'s default)')
    parser.add_argument('--decisions-in-turn', choices=('on', 'off'), default='on',
                        help='with --schedulers: [database] decisions_in_turn of the '
                             'schedulers (on, the default: they take turns to decide)')
    parser.add_argument('--idle-seconds', type=float, default=5.0,
                        help='seconds the schedulers\' CPU is measured with no boot once '
                             'every instance is ACTIVE (subtracted: scheduler_ms_per_boot_net)')
    parser.add_argument('--report-interval', type=int, default=600,
                        help='[agent] report_interval of the simulated hosts: every host '
                             'reports in one burst per interval, so with the default no '
                             'heartbeat falls in a run (a report\'s cost: '
                             'bench_service_work.py)')
    parser.add_argument('--settle', type=float, default=30.0,
                        help='seconds at most waited, once every host is up, for the '
                             'schedulers to go quiet (a starting scheduler asks every agent '
                             'to report)')
    parser.add_argument('--compare', action='store_true',
                        help='run the bus floor, 1 scheduler on SQLite, 1 and 2 schedulers on '
                             'PostgreSQL in turn and print one table')
    parser.add_argument('--postgres', default=POSTGRES_URL,
                        help='database for the PostgreSQL runs of --compare (a schema of '
                             'its own is made and dropped per run)')
    args = parser.parse_args()
    if args.schedulers > 1:
        from benchmarks import bench_bus_schedulers
        return bench_bus_schedulers.main(args)
    result = compare(args) if args.compare else bus_run(args)
    if args.json:
        print(json.dumps(result))
    elif args.compare:
        print_comparison(result)
    else:
        for key, value in result.items():
            print(f"{key:>16}: {value}")


if __name__ == '__main__':
    main()
