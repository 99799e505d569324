"""Chaos: 1,000 mixed boots and deletes from 4 clients under faults, then the audit.

Two ``kvmfleet-scheduler`` processes on one PostgreSQL schema, a 3-node RabbitMQ
cluster with quorum queues and a simulated fleet in one ``kvmfleet-agent`` process
(tests/functional/chaos.py).  While the clients boot (caller-chosen uuids) and
delete, a scheduler is SIGKILLed three times, one broker node is stopped once and
the agent is SIGKILLed once while builds are in flight; a timed-out call is sent
again with the same uuid.  Afterwards every request must be terminal, no pool
over-committed, no claim held by an ERROR or DELETED instance, and the hosts'
domains exactly the ACTIVE instances (tests/functional/chaos_audit.py).

    .venv/bin/python benchmarks/bench_chaos.py [--operations 1000] [--json]

Needs RabbitMQ's server binaries (tools/setup-host.sh) and PostgreSQL on
127.0.0.1:5432 (database kvmfleet_test, a private schema is made and dropped).
Exits 1 when the audit found a violation.
"""

import argparse
import json
import pathlib
import sys
import time

TOP = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOP))

POSTGRES_URL = 'postgresql+psycopg2://root@127.0.0.1:5432/kvmfleet_test'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--operations', type=int, default=1000)
    parser.add_argument('--clients', type=int, default=4)
    parser.add_argument('--hosts', type=int, default=24)
    parser.add_argument('--faults', default='full', choices=('full', 'short'),
                        help='full: 3 scheduler kills, a broker node stop, an agent kill; '
                             'short: one of each')
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--deadline', type=float, default=900.0,
                        help='seconds after which the clients send nothing new')
    parser.add_argument('--postgres', default=POSTGRES_URL)
    parser.add_argument('--keep', metavar='DIR',
                        help='run in DIR and keep it: the services\' logs and, after the '
                             'audit, the store\'s instances (instances.json)')
    parser.add_argument('--json', action='store_true')
    return parser.parse_args(argv)


def plan_of(args):
    from tests.functional import chaos
    return chaos.Plan(operations=args.operations, clients=args.clients, hosts=args.hosts,
                      faults=chaos.FULL_FAULTS if args.faults == 'full' else chaos.SHORT_FAULTS,
                      deadline_s=args.deadline, seed=args.seed)


def table(summary):
    """The summary as aligned lines: counts, states, faults, then each audit check."""
    rows = [('operations', f"{summary['operations']} ({summary['boots']} boots, "
                           f"{summary['deletes']} deletes) from {summary['clients']} clients"),
            ('hosts', summary['hosts']),
            ('final states', ', '.join(f"{k} {v}" for k, v in
                                       sorted(summary['final_states'].items()))),
            ('retries', summary['retries']), ('no valid host', summary['no_valid_host']),
            ('unexpected errors', f"{len(summary['unexpected_errors'])} "
                                  f"{summary['unexpected_errors'][:3] or ''}"),
            ('faults injected', len(summary['faults']))]
    rows += [(f"  {f['fault']} @{f['at_s']}s", f['detail']) for f in summary['faults']]
    rows += [(f"audit {name}", 'ok' if not lines else f"{len(lines)} VIOLATIONS: {lines[:3]}")
             for name, lines in summary['violations'].items()]
    rows += [('clients done in', f"{summary['clients_s']} s"),
             ('clients + settling', f"{summary['duration_s']} s"),
             ('start-up', ', '.join(f"{k} {v}" for k, v in summary['startup'].items())),
             ('teardown', f"{summary['teardown_s']} s"), ('wall clock', f"{summary['wall_s']} s")]
    width = max(len(str(name)) for name, _ in rows)
    return '\n'.join(f"{name:<{width}}  {value}" for name, value in rows)


def main(argv=None):
    args = parse_args(argv)
    from tests.conftest import postgres_schema
    from tests.functional.chaos import chaos_run
    started = time.monotonic()
    with postgres_schema(args.postgres, 'chaos') as url, \
            chaos_run(plan_of(args), url, args.keep) as run:
        summary = run.run()
        closing = time.monotonic()
    summary['teardown_s'] = round(time.monotonic() - closing, 1)
    summary['wall_s'] = round(time.monotonic() - started, 1)
    print(json.dumps(summary, sort_keys=True) if args.json else table(summary))
    return 1 if any(summary['violations'].values()) or summary['unexpected_errors'] else 0


if __name__ == '__main__':
    sys.exit(main())
