"""The bus floor: boots/s of the boot message pattern alone, with services that do nothing.

What ``bench_bus.py`` measures is the message pattern of a boot plus the work
(parse, place, claim, build the domain).  This benchmark keeps the messages
and drops the work, to show how much of a boot's CPU the bus itself takes on
this machine and the ceiling it sets:

* client -> scheduler: ``boot`` call (the same mixed requests) and its reply
  (a BUILDING record of the real size);
* scheduler -> agent: ``build_instance`` cast to the host's server (a real
  assignment and spec, as the scheduler sends them);
* agent -> scheduler: the result, through the agent's real batching sender
  (``instance_updates`` casts).

Both services are oslo.messaging RPC servers made by ``wire.rpc`` (threading
executor, the same transport options as kvmfleet's); no store, no engine, no
libvirt, no notifications.

    .venv/bin/python benchmarks/bench_bus_floor.py [--boots 4000] [--clients 4] [--runs 3]
"""

import argparse
import json
import multiprocessing
import pathlib
import statistics
import sys
import threading
import time
import uuid as uuidlib

TOP = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOP))

from benchmarks.bench_bus import broker_pid, run_clients  # noqa: E402
from benchmarks.bench_placement import machine_line  # noqa: E402
from tests.functional.bus_stack import Stack  # noqa: E402

HOST = 'floor-host'


def sample_payloads():
    """A real assignment, spec and BUILDING record for a pinned 2-vCPU request."""
    from scheduler.engine import build_engine
    from scheduler.engine.fleet import FleetView
    from scheduler.specs import parse_request
    from tests import busfleet
    from wire.topology import HostTopology
    spec = parse_request(busfleet.PINNED)
    fleet = FleetView([HostTopology.from_dict(busfleet.host(HOST))])
    uuid = str(uuidlib.uuid4())
    assignment = build_engine().place(spec, fleet, [uuid]).assignments[0]
    record = {'uuid': uuid, 'name': 'pinned', 'state': 'BUILDING', 'host': HOST,
              'assignment': assignment.to_dict(), 'alternates': ['h1', 'h2', 'h3'],
              'attempts': [], 'reason': None, 'created_at': time.time()}
    return assignment.to_dict(), spec.to_dict(), record


def serve_scheduler(url, ready):
    """A scheduler that answers boot at once and casts build_instance; nothing else."""
    import oslo_messaging as messaging

    from wire import agent_rpcapi, rpc, scheduler_rpcapi
    assignment, spec, record = sample_payloads()
    agents = agent_rpcapi.AgentAPI(url=url)

    class Scheduler:
        target = messaging.Target(version=scheduler_rpcapi.VERSION)

        @rpc.endpoint
        def boot(self, ctxt, request, instance_uuids=None):
            uuid = str(uuidlib.uuid4())
            agents.build_instance(HOST, uuid, request['name'], assignment, spec, request)
            return {'instances': [dict(record, uuid=uuid, name=request['name'])]}

        @rpc.endpoint
        def instance_updates(self, ctxt, updates):
            return None

        @rpc.endpoint
        def list(self, ctxt, state=None, host=None):
            return {'instances': []}

    _serve(rpc.get_rpc_server(scheduler_rpcapi.TOPIC, 'floor-scheduler', [Scheduler()], url),
           ready)


def serve_agent(url, ready):
    """An agent that answers every build_instance with ACTIVE through the batching sender."""
    import oslo_messaging as messaging

    from agent.updates import BatchingSchedulerAPI
    from wire import agent_rpcapi, rpc, scheduler_rpcapi
    updates = BatchingSchedulerAPI(scheduler_rpcapi.SchedulerAPI(url=url))

    class Agent:
        target = messaging.Target(version=agent_rpcapi.VERSION)

        @rpc.endpoint
        def build_instance(self, ctxt, instance, name, assignment, spec, request=None):
            updates.instance_update(instance, HOST, 'ACTIVE')

    _serve(rpc.get_rpc_server(agent_rpcapi.TOPIC, HOST, [Agent()], url), ready)


def _serve(server, ready):
    server.start()
    ready.set()
    threading.Event().wait()


def start(target, url):
    context = multiprocessing.get_context('spawn')
    ready = context.Event()
    process = context.Process(target=_configured, args=(target, url, ready), daemon=True)
    process.start()
    if not ready.wait(60):
        raise RuntimeError(f"{target.__name__} did not start")
    return process


def _configured(target, url, ready):
    from oslo_config import cfg
    cfg.CONF([], project='kvmfleet-floor')
    cfg.CONF.set_override('transport_url', url)
    target(url, ready)


def one_run(stack, boots, clients):
    services = [start(serve_scheduler, stack.url), start(serve_agent, stack.url)]
    try:
        watched = [('scheduler', services[0].pid), ('agent', services[1].pid),
                   ('broker', broker_pid())]
        elapsed, latencies, uuids, failures, cpu = run_clients(
            stack.url, clients, boots, 1, [(n, p) for n, p in watched if p])
    finally:
        for process in services:
            process.kill()
            process.join(10)
    if failures:
        raise RuntimeError(f"{failures} boot calls failed")
    return {'boots_per_s': len(uuids) / elapsed,
            'p50_ms': statistics.median(latencies) * 1000,
            'cpu_ms_per_boot': {k: v * 1000 / len(uuids) for k, v in cpu.items()}}


def fresh_run(boots, clients):
    """One run on its own RabbitMQ vhost: nothing of an earlier run's services is left."""
    import shutil
    import tempfile
    workdir = tempfile.mkdtemp(prefix='kvmfleet-floor-', dir='/var/tmp')
    stack = Stack(workdir, [])
    stack.create_vhost()
    try:
        return one_run(stack, boots, clients)
    finally:
        stack.close()
        shutil.rmtree(workdir, ignore_errors=True)


def summarise(runs):
    cpu = {name: round(statistics.median(r['cpu_ms_per_boot'][name] for r in runs), 2)
           for name in runs[0]['cpu_ms_per_boot']}
    return {'boots_per_s': round(statistics.median(r['boots_per_s'] for r in runs), 1),
            'runs_boots_per_s': [round(r['boots_per_s'], 1) for r in runs],
            'p50_ms': round(statistics.median(r['p50_ms'] for r in runs), 2),
            'cpu_ms_per_boot': cpu, 'cpu_ms_per_boot_total': round(sum(cpu.values()), 2)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--boots', type=int, default=4000)
    parser.add_argument('--clients', type=int, default=4)
    parser.add_argument('--runs', type=int, default=3)
    parser.add_argument('--json', action='store_true')
    args = parser.parse_args()
    runs = []
    for index in range(args.runs):
        runs.append(fresh_run(args.boots, args.clients))
        print(f"run {index + 1}/{args.runs}: {runs[-1]['boots_per_s']:.1f} boots/s",
              file=sys.stderr, flush=True)
    result = dict(summarise(runs), boots=args.boots, clients=args.clients, runs=args.runs,
                  command=' '.join(['benchmarks/bench_bus_floor.py', *sys.argv[1:]]),
                  machine=machine_line())
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>22}: {value}")


if __name__ == '__main__':
    main()
