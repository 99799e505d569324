"""``bench_bus.py --schedulers N``: N schedulers on one PostgreSQL store, a mixed load.

N ``kvmfleet-scheduler`` processes share a private schema of the PostgreSQL
database ``kvmfleet_test`` and the topic ``kvmfleet-scheduler`` (the broker
hands each call to one of them); one ``kvmfleet-agent --simulate-fleet``
serves the hosts.  Each client boots mixed requests and, after every third
boot, deletes the oldest of its instances still alive, so each scheduler's
view has to follow claims and releases the others made.  Reported: claims,
refits (claims that met a stale host generation and were refitted on fresh
state, from each scheduler's Prometheus counters) and their share of the
claims; then, once every build and delete has ended, ``hosts`` asked of each
scheduler on its own: do they agree with each other and with the store, and by
how many pCPUs the worst host differs.  ``show`` of a sample of instances is
compared the same way.
"""

import json
import multiprocessing
import pathlib
import shutil
import statistics
import tempfile
import time

from benchmarks.bench_bus import (
    _own_cpu,
    extra_config,
    percentile,
    process_cpu,
    start_agent_process,
)

POSTGRES_URL = 'postgresql+psycopg2://root@127.0.0.1:5432/kvmfleet_test'
DELETE_EVERY = 3       # a delete after every third boot


def mixed_worker(url, client, count, results, go):
    """Boot ``count`` mixed requests, deleting its oldest live instance after every third."""
    from oslo_config import cfg

    from tests import busfleet
    from wire import rpc, scheduler_rpcapi
    cfg.CONF.set_override('transport_url', url)
    api = scheduler_rpcapi.SchedulerAPI(timeout=60)
    api.list(state='ERROR')            # warm the connection before the clock starts
    results.put(('ready', client))
    go.wait()
    cpu_start = _own_cpu()
    latencies, alive, deleted, failures = [], [], [], 0
    for index in range(count):
        template = busfleet.MIXED[index % len(busfleet.MIXED)]
        started = time.perf_counter()
        try:
            answer = api.boot(dict(template, name=f"m{client}-{index}"))
            alive.extend(i['uuid'] for i in answer['instances'])
        except rpc.BusError:
            failures += 1
        latencies.append(time.perf_counter() - started)
        if index % DELETE_EVERY == DELETE_EVERY - 1 and alive:
            uuid = alive.pop(0)
            api.delete(uuid)
            deleted.append(uuid)
    results.put(('done', client, latencies, alive, deleted, failures, _own_cpu() - cpu_start))


def run_mixed_clients(url, clients, boots, schedulers):
    context = multiprocessing.get_context('spawn')   # no broker connection crosses a fork
    results, go = context.Queue(), context.Event()
    workers = [context.Process(target=mixed_worker,
                               args=(url, c, boots // clients, results, go))
               for c in range(clients)]
    for worker in workers:
        worker.start()
    for _ in workers:
        assert results.get(timeout=120)[0] == 'ready'
    cpu_before = [process_cpu(pid) for pid in schedulers.pids()]
    started = time.perf_counter()
    go.set()
    done = [results.get(timeout=900) for _ in workers]
    elapsed = time.perf_counter() - started
    cpu = [process_cpu(pid) - before for pid, before in zip(schedulers.pids(), cpu_before)]
    for worker in workers:
        worker.join(30)
    return elapsed, done, cpu


def wait_ended(store, timeout=600, quiet_s=3.0):
    """Until no instance is BUILDING or in a task (a delete in flight) and nothing has
    changed for ``quiet_s`` seconds (results still on their way); the count per state."""
    deadline, last, quiet_since = time.monotonic() + timeout, None, time.monotonic()
    while True:
        records = store.list_instances(include_deleted=True)
        now = {(r.uuid, r.state, r.task) for r in records}
        if now != last:
            last, quiet_since = now, time.monotonic()
        pending = [r for r in records if r.state == 'BUILDING' or r.task]
        if not pending and time.monotonic() - quiet_since >= quiet_s:
            states, errors = {}, {}
            for record in records:
                states[record.state] = states.get(record.state, 0) + 1
                if record.state == 'ERROR':
                    reason = (record.reason or '')[:120]
                    errors[reason] = errors.get(reason, 0) + 1
            return states, errors
        if time.monotonic() >= deadline:
            raise RuntimeError(f"{len(pending)} instances still building or deleting")
        time.sleep(0.5)


def wait_all_up(schedulers, count, timeout=300):
    """Until every scheduler's ``hosts`` shows ``count`` hosts up."""
    deadline = time.monotonic() + timeout
    for index in range(len(schedulers.names)):
        api = schedulers.api(index, timeout=60)
        while up_count(api) < count:
            if time.monotonic() >= deadline:
                raise RuntimeError(f"{schedulers.names[index]}: {count} hosts not up")
            time.sleep(1)


def up_count(api):
    from oslo_messaging import MessagingTimeout
    try:
        return sum(1 for h in api.hosts()['hosts'] if h['up'])
    except MessagingTimeout:     # busy taking the first reports of every host
        return 0


def pcpus_used(view):
    return sum(cell['pcpus']['used'] for cell in view['cells'])


def compare_views(schedulers, store, tries=3):
    """How each scheduler's ``hosts`` compares with the store's truth, and with the others.

    The store is read before and after the schedulers are asked; when it moved in
    between (a host report reconciling something), the comparison is made again.
    """
    from tests.functional.multi_scheduler import comparable, store_views
    for _ in range(tries):
        truth = store_views(store)
        answers = [{h['name']: h for h in schedulers.api(i, timeout=60).hosts()['hosts']}
                   for i in range(len(schedulers.names))]
        after = store_views(store)
        if {n: comparable(v) for n, v in truth.items()} == \
                {n: comparable(v) for n, v in after.items()}:
            break
    differing, worst_pcpus = set(), 0
    for answer in answers:
        for name, view in truth.items():
            mine = answer.get(name)
            if mine is None or comparable(mine) != comparable(view):
                differing.add(name)
                if mine is not None:
                    worst_pcpus = max(worst_pcpus, abs(pcpus_used(mine) - pcpus_used(view)))
    agree = all(comparable(a[n]) == comparable(answers[0][n])
                for a in answers for n in answers[0]) and \
        all(set(a) == set(answers[0]) for a in answers)
    return {'hosts_agree_with_each_other': agree,
            'hosts_differing_from_store': len(differing),
            'worst_pcpus_from_store': worst_pcpus}


def compare_shows(schedulers, uuids):
    answers = [[schedulers.api(i).show(u) for u in uuids] for i in range(len(schedulers.names))]
    return all(a == answers[0] for a in answers)


def schedulers_config(args):
    text = ''
    if args.host_subset_size:
        text += f"[filter_scheduler]\nhost_subset_size = {args.host_subset_size}\n"
    if args.decisions_in_turn == 'off':
        text += "[database]\ndecisions_in_turn = false\n"
    return text


def run(args):
    """The multi-scheduler run of bench_bus; returns its result dict."""
    from scheduler.store import Store
    from tests import busfleet
    from tests.conftest import postgres_schema
    from tests.functional.bus_stack import Stack
    from tests.functional.multi_scheduler import Schedulers
    workdir = pathlib.Path(tempfile.mkdtemp(prefix='kvmfleet-bench-sched-', dir=args.workdir))
    with postgres_schema(args.database_url or POSTGRES_URL, 'kvmfleet_bench_bus') as db_url:
        # reports every 60 s; a scheduler follows the store's heartbeats every 20 s
        stack = Stack(workdir, busfleet.fleet(args.hosts, prefix='sim'), report_interval=60,
                      down_time=120, grace=600, on_change=False, hosts_per_connection=100,
                      extra_config=extra_config(args) + schedulers_config(args))
        stack.create_vhost()
        schedulers, agent, store = Schedulers(stack, args.schedulers, db_url), None, None
        try:
            schedulers.start()
            agent = start_agent_process(stack)
            wait_all_up(schedulers, args.hosts)
            elapsed, done, cpu = run_mixed_clients(stack.url, args.clients, args.boots,
                                                   schedulers)
            store = Store(db_url)
            states, errors = wait_ended(store)
            claims = [schedulers.claims(i) for i in range(len(schedulers.names))]
            views = compare_views(schedulers, store)
            alive = [u for d in done for u in d[3]]
            shows_agree = compare_shows(schedulers, alive[:20])
        finally:
            if store is not None:
                store.dispose()
            if agent is not None:
                agent.terminate()
                agent.wait(60)
            schedulers.stop()
            stack.close()
    shutil.rmtree(workdir, ignore_errors=True)
    latencies = sorted(x for d in done for x in d[2])
    claimed = sum(c.get('claimed', 0) for c in claims)
    refits = sum(c.get('conflict', 0) for c in claims)
    boots = len(latencies)
    return {
        'schedulers': args.schedulers, 'hosts': args.hosts, 'clients': args.clients,
        'host_subset_size': args.host_subset_size or 1,
        'decisions_in_turn': args.decisions_in_turn,
        'boot_calls': boots, 'deletes': sum(len(d[4]) for d in done),
        'no_valid_host': sum(d[5] for d in done), 'final_states': states,
        'error_reasons': errors,
        'boots_per_s': round(boots / elapsed, 1),
        'p50_ms': round(statistics.median(latencies) * 1000, 2),
        'p99_ms': round(percentile(latencies, 0.99) * 1000, 2),
        'claims': claimed, 'refits': refits,
        'refit_pct': round(100.0 * refits / max(1, claimed), 2),
        'claims_by_scheduler': claims,
        'scheduler_cpu_ms_per_boot': [round(s * 1000 / max(1, boots), 2) for s in cpu],
        **views, 'shows_agree': shows_agree,
    }


def main(args):
    result = run(args)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>28}: {value}")
