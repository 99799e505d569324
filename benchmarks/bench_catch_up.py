"""The cost of a scheduler's catch-up before each decision (WarmState.catch_up).

Before every decision a scheduler reads the hosts stamped since its last look
(one indexed query, scheduler/store/changes.py) and reloads those another
scheduler changed.  This times one catch-up on a store of N hosts in three
cases: nothing written since the last look; the scheduler's own last claim
(one row read, nothing reloaded: the case of a lone scheduler); one host
claimed by another scheduler (one row read, that host reloaded).  Median CPU
and wall time over runs.

    .venv/bin/python benchmarks/bench_catch_up.py [--hosts 10000] [--runs 50]
        [--database-url postgresql+psycopg2://root@127.0.0.1/kvmfleet_test]
"""

import json
import pathlib
import sys

TOP = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TOP))

from benchmarks.bench_liveness import measure, summary, timed  # noqa: E402
from scheduler.warm_state import WarmState  # noqa: E402
from wire.assignment import Assignment  # noqa: E402

CASES = (('nothing written', 'quiet'), ('own last claim', 'own_claim'),
         ('another scheduler\'s claim', 'other_claim'))


def one_pcpu(store, host, index):
    """Claim one pinned pCPU of ``host`` as a boot would; the Assignment."""
    uuid = f"bench-{host}-{index}"
    store.create_instance(uuid, uuid, {}, None, 'BUILDING')
    return Assignment.from_dict({
        'host': host, 'instance': uuid, 'vcpus': 1, 'memory_mb': 64,
        'cells': [{'guest_cell': 0, 'host_cell': 0, 'vcpus': [0], 'memory_mb': 64,
                   'pinning': {'0': index}}]})


def run(store, hosts, runs, now):
    mine = WarmState(store, down_time=60, clock=lambda: now).load()
    other = WarmState(store, down_time=60, clock=lambda: now).load()
    samples = {key: [] for _, key in CASES}
    for index in range(runs):
        samples['quiet'].append(timed(mine.catch_up))
        host = f"host-{(index * 7919) % hosts:05d}"
        for state, key in ((mine, 'own_claim'), (other, 'other_claim')):
            assignment = one_pcpu(store, host, index * 2 + (state is other))
            state.applied(assignment, None, store.claim(assignment, state.generations[host]))
            other.catch_up()       # the other scheduler follows too: its next claim is fresh
            samples[key].append(timed(mine.catch_up))
    return {key: summary(values) for key, values in samples.items()}


def main(argv=None):
    args, result = measure(argv, 'bench_catch_up.py', run, 50, __doc__.splitlines()[0])
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"$ {result['command']}\nmachine: {result['machine']}")
    print(f"{'catch-up after':<28}{'CPU ms':>10}{'wall ms':>10}   ({result['hosts']} hosts, "
          f"{result['database']}, median of {args.runs})")
    for label, key in CASES:
        print(f"{label:<28}{result[key]['cpu_ms']:>10}{result[key]['wall_ms']:>10}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
