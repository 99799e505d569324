"""Moves: a destination decision against a boot decision (the same engine), and the
scheduler's time and CPU per migration while draining hosts of a full fleet.

* decision: ``moves.choose_destination`` (the instance's RequestSpec on the warm
  view without its source host) against ``Engine.place`` of the same spec (a
  boot decision), median per decision, on a fleet of ``--hosts`` hosts holding
  ``--guests`` mixed pinned / 2M-hugepage / SR-IOV / floating guests each; the
  ratio is destination / boot, measured in the same run.
* drain: ``SchedulerManager.host_drain`` of ``--drains`` hosts one after the
  other on that fleet (SQLite store, the warm view, claims on both hosts,
  finish and free in one transaction each), with agents that answer at once in
  this process: what is measured is the scheduler's own work.  Per migration:
  wall time and process CPU of each drain divided by the instances it moved,
  median over the drains; the boots that filled the fleet give the baseline
  (scheduler CPU per boot, same run).

    .venv/bin/python benchmarks/bench_moves.py [--hosts 100] [--guests 10] [--drains 10]
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

from benchmarks.bench_placement import machine_line  # noqa: E402
from tests import busfleet  # noqa: E402


class InlineAgents:
    """Agents that answer every move at once, in this process (no bus, no libvirt)."""

    manager = None

    def build_instance(self, host, instance, *args, **kwargs):
        pass

    def delete_instance(self, *args, **kwargs):
        pass

    def prepare_migration(self, host, migration, instance, *args, **kwargs):
        return {'ok': True, 'uri': f"sim://{host}", 'xml': '<domain/>'}

    def migrate_instance(self, host, migration, instance, *args, **kwargs):
        self.manager.mover.source_result(migration, host, 'migrated', None)

    def finish_migration(self, host, migration, instance, assignment):
        self.manager._instance_update(instance, host, 'ACTIVE', None)

    def abort_migration(self, *args, **kwargs):
        pass


def build_scheduler(path, hosts, guests):
    """A scheduler with ``hosts`` hosts of ``guests`` ACTIVE guests; (manager, boot CPU ms)."""
    from scheduler.engine import EngineSettings, build_engine
    from scheduler.manager import SchedulerManager
    from scheduler.store import Store
    store = Store(f"sqlite:///{path}/moves.sqlite").create_schema()
    agents = InlineAgents()
    manager = SchedulerManager(store, build_engine(EngineSettings(seed=1)), agents)
    manager.spawn = lambda target, *args: target(*args)
    agents.manager = manager
    shape = {'pcpus_per_cell': 16, 'pages_2m': 2048, 'vfs_per_cell': 4}
    for host in busfleet.fleet(hosts, prefix='bench', **shape):
        manager.report_host.__wrapped__(manager, {}, host=host, instances=[])
    started, count = time.process_time(), hosts * guests
    for index in range(count):
        request = dict(busfleet.MIXED[index % len(busfleet.MIXED)], name=f"g{index}")
        [record] = manager.boot.__wrapped__(manager, {}, request=request)['instances']
        manager._instance_update(record['uuid'], record['host'], 'ACTIVE', None)
    return manager, (time.process_time() - started) * 1000 / count


def decision_ms(manager, samples):
    """(median ms of a destination decision, of a boot decision) for held instances."""
    from scheduler import moves
    from wire.request_spec import RequestSpec
    records = [r for r in manager.store.list_instances(state='ACTIVE')][:samples]
    fleet, engine = manager.state.fleet, manager.engine
    destination, boot = [], []
    decide = {'destination': lambda spec, host: moves.choose_destination(
                  engine, fleet, spec, 'bench-move', host),
              'boot': lambda spec, host: engine.place(spec, fleet, ['bench-boot'])}
    times = {'destination': destination, 'boot': boot}
    for index, record in enumerate(records):
        spec = RequestSpec.from_dict(record.spec)
        # alternate which goes first: the second of a pair finds the engine's caches warm
        for kind in (('destination', 'boot') if index % 2 else ('boot', 'destination')):
            started = time.perf_counter()
            decide[kind](spec, record.host)
            times[kind].append(time.perf_counter() - started)
    return statistics.median(destination) * 1000, statistics.median(boot) * 1000


def drain_figures(manager, drains):
    """Per drained host, the busiest first: (wall ms, CPU ms) per migration, and what
    moved and failed."""
    per_migration, moved, failed = [], 0, 0
    fleet = manager.state.fleet
    busiest = sorted(manager.state.generations,
                     key=lambda name: (-fleet.state(name).usage.instances, name))
    for name in busiest[:drains]:
        wall, cpu = time.perf_counter(), time.process_time()
        manager.host_drain.__wrapped__(manager, {}, host=name)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        progress = manager.drains[name].progress
        moved += len(progress.moved)
        failed += len(progress.failed)
        if progress.moved:
            per_migration.append((wall * 1000 / len(progress.moved),
                                  cpu * 1000 / len(progress.moved)))
    return per_migration, moved, failed


def overruns(manager):
    from scheduler.fitting import audit
    lines = []
    for name in manager.state.generations:
        held = [h.assignment for h in manager.store.held_instances(name)]
        topology = manager.state.fleet.state(name).topology
        lines += audit.overruns(topology, manager.engine.policy, held)
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--hosts', type=int, default=100)
    parser.add_argument('--guests', type=int, default=10, help='guests per host')
    parser.add_argument('--drains', type=int, default=10, help='hosts drained in turn')
    parser.add_argument('--samples', type=int, default=200, help='decisions timed')
    parser.add_argument('--json', action='store_true')
    args = parser.parse_args(argv)
    path = tempfile.mkdtemp(prefix='bench-moves-')
    try:
        manager, boot_cpu_ms = build_scheduler(path, args.hosts, args.guests)
        destination_ms, boot_ms = decision_ms(manager, args.samples)
        per_migration, moved, failed = drain_figures(manager, args.drains)
        problems = overruns(manager)
        manager.store.dispose()
    finally:
        shutil.rmtree(path, ignore_errors=True)
    result = {
        'hosts': args.hosts, 'guests_per_host': args.guests, 'drains': args.drains,
        'destination_decision_ms': round(destination_ms, 3),
        'boot_decision_ms': round(boot_ms, 3),
        'decision_ratio': round(destination_ms / boot_ms, 2),
        'migration_ms': round(statistics.median(w for w, _ in per_migration), 3),
        'migration_cpu_ms': round(statistics.median(c for _, c in per_migration), 3),
        'boot_cpu_ms': round(boot_cpu_ms, 3),
        'moved': moved, 'not_moved': failed, 'overruns': problems,
        'command': ' '.join(['benchmarks/bench_moves.py',
                             *(sys.argv[1:] if argv is None else argv)]),
        'machine': machine_line()}
    result['migration_to_boot_cpu'] = round(result['migration_cpu_ms'] / boot_cpu_ms, 2)
    if args.json:
        print(json.dumps(result))
        return
    print(f"fleet: {args.hosts} hosts x {args.guests} guests; {args.drains} hosts drained "
          f"({moved} moved, {failed} not moved)")
    print(f"destination decision {destination_ms:.3f} ms, boot decision {boot_ms:.3f} ms "
          f"(median; ratio {result['decision_ratio']})")
    print(f"per migration (median of drains): {result['migration_ms']:.3f} ms wall, "
          f"{result['migration_cpu_ms']:.3f} ms scheduler CPU; a boot: {boot_cpu_ms:.3f} ms "
          f"CPU (ratio {result['migration_to_boot_cpu']})")
    print(f"resources held beyond a pool after the drains: {len(problems)}")
    print(f"command: {result['command']}\nmachine: {result['machine']}")


if __name__ == '__main__':
    main()
