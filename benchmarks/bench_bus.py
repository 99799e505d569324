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


def wait_active(stack, uuids, timeout=600):
    from wire import scheduler_rpcapi
    api, deadline = scheduler_rpcapi.SchedulerAPI(timeout=60), time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = {}
        for record in api.list()['instances']:
            states[record['state']] = states.get(record['state'], 0) + 1
        if not states.get('BUILDING'):
            return states
        time.sleep(0.5)
    raise RuntimeError(f"instances still building after {timeout}s: {states}")


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
    parser.add_argument('--notifications', choices=('on', 'off'), default='on',
                        help='on: [oslo_messaging_notifications] driver = messagingv2 '
                             '(scheduler and agents); off: no driver, the default')
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
    args = parser.parse_args()
    if args.schedulers > 1:
        from benchmarks import bench_bus_schedulers
        return bench_bus_schedulers.main(args)

    from tests import busfleet
    from tests.functional.bus_stack import Stack
    workdir = pathlib.Path(tempfile.mkdtemp(prefix='kvmfleet-bench-bus-', dir=args.workdir))
    stack = Stack(workdir, busfleet.fleet(args.hosts, prefix='sim'), report_interval=60,
                  down_time=600, grace=600, on_change=False, hosts_per_connection=100,
                  extra_config=extra_config(args))
    stack.create_vhost()
    agent = None
    try:
        stack.start_scheduler()
        stack.wait_scheduler()     # an agent's first reports must find the scheduler's queue
        agent = start_agent_process(stack)
        t0 = time.perf_counter()
        stack.wait_hosts_up(timeout=300)
        hosts_up_s = time.perf_counter() - t0
        watched = [('scheduler', stack.scheduler.pid), ('agent', agent.pid),
                   ('broker', broker_pid())]
        elapsed, latencies, uuids, failures, cpu = run_clients(
            stack.url, args.clients, args.boots, args.count,
            [(name, pid) for name, pid in watched if pid])
        t1 = time.perf_counter()
        states = wait_active(stack, uuids)
        all_active_s = elapsed + time.perf_counter() - t1
    finally:
        if agent is not None:
            agent.terminate()
            agent.wait(60)
        stack.close()
    shutil.rmtree(workdir, ignore_errors=True)
    result = {
        'hosts': args.hosts, 'boot_calls': len(latencies), 'instances': len(uuids),
        'count_per_call': args.count, 'clients': args.clients,
        'boots_per_s': round(len(uuids) / elapsed, 1),
        'p50_ms': round(statistics.median(latencies) * 1000, 2),
        'p99_ms': round(percentile(latencies, 0.99) * 1000, 2),
        'no_valid_host': failures, 'final_states': states,
        'all_active_per_s': round(len(uuids) / all_active_s, 1),
        'hosts_up_s': round(hosts_up_s, 1), 'cpus': os.cpu_count(), 'workdir': args.workdir,
        'cpu_ms_per_boot': {name: round(seconds * 1000 / len(uuids), 2)
                            for name, seconds in cpu.items()},
        'notifications': args.notifications, 'signing': args.signing,
        'executor_threads': args.executor_threads or 64,
        'hosts_per_connection': args.hosts_per_connection or 100,
    }
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>16}: {value}")


if __name__ == '__main__':
    main()
