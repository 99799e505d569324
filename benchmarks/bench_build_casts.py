"""The scheduler's CPU per build sent: one build_instance cast each, or build_instances of k.

A build cast is a signed, broker-confirmed publish (wire.agent_rpcapi.AgentAPI, the
scheduler's own client with an Ed25519 signer) to a host queue on a private RabbitMQ
vhost; nothing consumes it, so only the sender's side is measured (the agent's side
of a message, receive and signature check, shrinks alike).  The scheduler batches
the builds of a host claimed while its previous cast was leaving
(scheduler/build_casts.py): this says what each build merged into a batch saves.

    .venv/bin/python benchmarks/bench_build_casts.py [--builds 1200] [--runs 3]
"""

import argparse
import json
import pathlib
import shutil
import statistics
import sys
import tempfile
import time

TOP = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOP))

from benchmarks.bench_bus_floor import sample_payloads  # noqa: E402
from benchmarks.bench_placement import machine_line  # noqa: E402

BATCHES = (1, 2, 4, 8)


def sender_ms_per_build(api, build, builds, batch):
    started = time.process_time()
    for _ in range(builds // batch):
        if batch == 1:
            api.build_instance('bench-host', **build)
        else:
            api.build_instances('bench-host', [build] * batch)
    return (time.process_time() - started) * 1000 / (builds // batch * batch)


def measure(url, builds, runs):
    from wire import agent_rpcapi, keys, signing
    assignment, spec, _ = sample_payloads()
    build = {'instance': assignment['instance'], 'name': 'pinned', 'assignment': assignment,
             'spec': spec, 'request': {'name': 'pinned', 'vcpus': 2, 'memory_mb': 1024}}
    api = agent_rpcapi.AgentAPI(url=url, signer=signing.Signer(keys.generate(), name='bench'))
    api.build_instance('bench-host', **build)       # the connection, before the clock
    figures = {batch: [] for batch in BATCHES}
    for _ in range(runs):          # the sizes in turn, so a drift of the machine hits all
        for batch in BATCHES:
            figures[batch].append(sender_ms_per_build(api, build, builds, batch))
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--builds', type=int, default=1200)
    parser.add_argument('--runs', type=int, default=3)
    parser.add_argument('--json', action='store_true')
    args = parser.parse_args()
    from oslo_config import cfg

    from tests.functional.bus_stack import Stack
    workdir = tempfile.mkdtemp(prefix='kvmfleet-bench-casts-', dir='/var/tmp')
    stack = Stack(workdir, [])
    stack.create_vhost()
    try:
        cfg.CONF([], project='kvmfleet-bench')
        cfg.CONF.set_override('transport_url', stack.url)
        figures = measure(stack.url, args.builds, args.runs)
    finally:
        stack.close()
        shutil.rmtree(workdir, ignore_errors=True)
    result = {'sender_cpu_ms_per_build': {str(batch): round(statistics.median(values), 3)
                                          for batch, values in figures.items()},
              'runs': {str(batch): [round(v, 3) for v in values]
                       for batch, values in figures.items()},
              'builds': args.builds, 'command': ' '.join(['benchmarks/bench_build_casts.py',
                                                          *sys.argv[1:]]),
              'machine': machine_line()}
    if args.json:
        print(json.dumps(result))
        return
    print('builds per cast   scheduler CPU ms per build (median; runs)')
    for batch in BATCHES:
        print(f"{batch:>15}   {result['sender_cpu_ms_per_build'][str(batch)]:.3f} "
              f"({', '.join(f'{v:.3f}' for v in result['runs'][str(batch)])})")
    print(f"command: {result['command']}\nmachine: {result['machine']}")


if __name__ == '__main__':
    main()
