"""Make-room benchmark: how often the planner finds room on a fragmented fleet, how many
live migrations it needs, and how long planning takes.

A fleet of hosts (2 cells x ``--pcpus`` dedicated pCPUs, no siblings) is filled at random
to ``--fill`` of its pCPUs with small pinned guests (1, 2 or 4 vCPUs in one cell, or 2 or 4
over both), which scatters the free pCPUs over cells.  Then, for each of ``--requests``
big pinned requests (a whole cell, or three quarters of one), drawn at random, the
planner (scheduler.make_room.plan, default bounds unless given) answers on the same
fleet (plans are not applied: each request sees the fragmented fleet).  Printed: the
machine, the command, the requests that fit without a move, the share of the others
with a plan, the distribution of moves per plan, and the planning time of those (the
failed placement included, as a boot pays it) p50 / p99 / max, wall and process CPU
(CPU is the steadier figure on a shared machine).

    python benchmarks/bench_make_room.py --hosts 200 --requests 200 [--json]
"""

import argparse
import collections
import json
import pathlib
import random
import statistics
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_placement import machine  # noqa: E402
from scheduler import make_room  # noqa: E402
from scheduler.engine import EngineSettings, build_engine  # noqa: E402
from scheduler.engine.fleet import FleetView  # noqa: E402
from wire.assignment import Assignment  # noqa: E402
from wire.request_spec import CPU_DEDICATED, GuestCell, RequestSpec  # noqa: E402
from wire.topology import Cell, HostTopology  # noqa: E402

# (vCPUs, guest NUMA cells) of the guests that fill the fleet
SMALL_SHAPES = ((1, 1), (2, 1), (4, 1), (2, 2), (4, 2))


def pinned(name, vcpus, cells):
    """A dedicated-CPU spec of ``vcpus`` split evenly over ``cells`` guest cells."""
    per_cell = vcpus // cells
    return RequestSpec(
        name=name, vcpus=vcpus, memory_mb=512 * vcpus, cpu_policy=CPU_DEDICATED,
        dedicated_vcpus=frozenset(range(vcpus)),
        numa_cells=tuple(GuestCell(i, tuple(range(i * per_cell, (i + 1) * per_cell)),
                                   512 * per_cell) for i in range(cells)))


def topology(name, pcpus):
    cells = tuple(Cell(id=i, cpus=frozenset(range(i * pcpus, (i + 1) * pcpus)),
                       shared_cpus=frozenset(), siblings=(), memory_mb=65536, pages={})
                  for i in range(2))
    return HostTopology(name=name, cells=cells)


def fragmented_fleet(args, engine, rng):
    """(FleetView, [Movable]): every host filled at random to 95% of its pCPUs, then
    random guests deleted down to ``args.fill``: the churn that scatters free pCPUs."""
    fleet = FleetView([topology(f"host-{i:05d}", args.pcpus) for i in range(args.hosts)])
    placed = {}
    for state in list(fleet.hosts()):
        fill(fleet, engine, rng, state.name, int(0.95 * 2 * args.pcpus), placed)
    target = int(args.fill * 2 * args.pcpus)
    for name in [s.name for s in fleet.hosts()]:
        guests = [m for m in placed.values() if m.host == name]
        rng.shuffle(guests)
        used = sum(m.spec.vcpus for m in guests)
        while used > target and guests:
            gone = guests.pop()
            fleet.release(gone.assignment)
            del placed[gone.uuid]
            used -= gone.spec.vcpus
    return fleet, list(placed.values())


def fill(fleet, engine, rng, name, target, placed):
    """Small pinned guests on host ``name`` until ``target`` pCPUs are held."""
    used, failures = 0, 0
    while used < target and failures < 8:
        vcpus, cells = rng.choice(SMALL_SHAPES)
        spec = pinned(f"small-{vcpus}x{cells}", vcpus, cells)
        uuid = f"{name}-vm-{len(placed)}"
        state = fleet.state(name)
        assignment = engine.fit(state.topology, state.usage, spec, engine.policy, uuid)
        if not isinstance(assignment, Assignment) or used + vcpus > target:
            failures += 1
            continue
        fleet.apply(assignment)
        placed[uuid] = make_room.Movable(uuid, assignment, spec)
        used += vcpus


def big_requests(args, rng):
    sizes = (args.pcpus, args.pcpus * 3 // 4)
    return [pinned(f"big-{i}", rng.choice(sizes), 1) for i in range(args.requests)]


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def run(args):
    rng = random.Random(args.seed)
    engine = build_engine(EngineSettings(seed=args.seed))
    fleet, movable = fragmented_fleet(args, engine, rng)
    settings = make_room.RoomSettings(max_moves=args.max_moves, max_hosts=args.max_hosts)
    fit_now, found, moves, timings, cpu, searched = 0, 0, collections.Counter(), [], [], []
    for spec in big_requests(args, rng):
        started, cpu_started = time.perf_counter(), time.process_time()
        plan = make_room.plan(engine, fleet, spec, ['new'], movable, settings)
        elapsed, cpu_elapsed = time.perf_counter() - started, time.process_time() - cpu_started
        if plan.found and not plan.moves:
            fit_now += 1
            continue
        timings.append(elapsed * 1000)
        cpu.append(cpu_elapsed * 1000)
        searched.append(plan.sets_tried)
        if plan.found:
            found += 1
            moves[len(plan.moves)] += 1
    free = sum(s.summary.free_pcpus for s in fleet.hosts())
    needing = len(timings)
    return {
        'hosts': args.hosts, 'pcpus_per_cell': args.pcpus, 'fill': args.fill,
        'instances': len(movable), 'free_pcpus': free,
        'hosts_with_a_free_cell_of_request_size': sum(
            1 for s in fleet.hosts() if s.summary.free_pcpus_max_cell >= args.pcpus),
        'requests': args.requests, 'fit_without_moves': fit_now, 'needing_room': needing,
        'plans_found': found,
        'plans_found_pct': round(100.0 * found / needing, 1) if needing else None,
        'moves_per_plan': {str(k): moves[k] for k in sorted(moves)},
        'sets_tried_p50': statistics.median(searched) if searched else 0,
        'planning_ms_p50': round(statistics.median(timings), 3) if timings else 0.0,
        'planning_ms_p99': round(percentile(timings, 0.99), 3),
        'planning_ms_max': round(max(timings, default=0.0), 3),
        'planning_cpu_ms_p50': round(statistics.median(cpu), 3) if cpu else 0.0,
        'planning_cpu_ms_p99': round(percentile(cpu, 0.99), 3),
        'bounds': {'max_moves': args.max_moves, 'max_hosts': args.max_hosts},
    }


def print_report(report):
    info, r = report['machine'], report['result']
    print(f"machine: {info['cpu_model']}, {info['cores']} cores, Python {info['python']}")
    print(f"command: {report['command']}")
    print(f"fleet: {r['hosts']} hosts x 2 cells x {r['pcpus_per_cell']} pCPUs, filled to "
          f"{r['fill']:.0%} by {r['instances']} guests; {r['free_pcpus']} pCPUs free")
    print(f"requests: {r['requests']}, {r['fit_without_moves']} fit without a move, "
          f"{r['needing_room']} need room")
    print(f"plans found: {r['plans_found']} of {r['needing_room']} "
          f"({r['plans_found_pct']}%) within {r['bounds']}")
    print(f"moves per plan: {r['moves_per_plan']}")
    print(f"planning (wall): p50 {r['planning_ms_p50']} ms, p99 {r['planning_ms_p99']} ms, "
          f"max {r['planning_ms_max']} ms ({r['sets_tried_p50']} sets fitted, median)")
    print(f"planning (process CPU): p50 {r['planning_cpu_ms_p50']} ms, "
          f"p99 {r['planning_cpu_ms_p99']} ms")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--hosts', type=int, default=200)
    parser.add_argument('--pcpus', type=int, default=16, help='dedicated pCPUs per cell')
    parser.add_argument('--fill', type=float, default=0.7, help='share of pCPUs held')
    parser.add_argument('--requests', type=int, default=200)
    parser.add_argument('--max-moves', type=int, default=make_room.RoomSettings.max_moves)
    parser.add_argument('--max-hosts', type=int, default=make_room.RoomSettings.max_hosts)
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--json', action='store_true', help='print the report as JSON')
    args = parser.parse_args(argv)
    if args.hosts < 2 or args.requests < 1 or not 0 < args.fill < 1 or args.pcpus < 4:
        parser.error('--hosts >= 2, --requests >= 1, 0 < --fill < 1, --pcpus >= 4')
    arguments = sys.argv[1:] if argv is None else list(argv)
    command = ' '.join([sys.executable, 'benchmarks/bench_make_room.py'] + arguments)
    report = {'machine': machine(), 'command': command, 'result': run(args)}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report)
    return 0


if __name__ == '__main__':
    sys.exit(main())
