"""Dashboard benchmark: the fleet page rendered on the server for a generated fleet.

A generated, partly filled fleet (benchmarks/generate_fleet.py, 2 cells x 32
threads per host, some in aggregates) becomes the scheduler's ``hosts`` answer
(scheduler.host_views, as the scheduler answers it); then, run after run, the
dashboard's WSGI application renders, from that answer held in its source (as
within ``[dashboard] refresh_seconds``):

* ``fleet_first``: the fleet page (summary, aggregates, page 1 of ``--page-size``
  rows) on a new ``hosts`` answer, when the summary and aggregates are computed;
* ``fleet``: the same page again while the answer is kept;
* ``filtered``: a name filter and the "most free first" sort, page 3;
* ``host``: one host's page (its threads drawn one by one);
* ``offline``: the whole fleet in one file (``kvmfleet hosts --fleet F -f html``),
  the baseline the paged page is compared with.

Printed: the machine, the command, per page the median wall time and CPU time
over the runs, the bytes sent, and the CPU ratios offline / first page / later
view (CPU time: wall time on a shared 2-core machine is mostly waiting).  The RPC call that
fetches the ``hosts`` answer is not in these times (it happens once per refresh):
its JSON size is printed as ``hosts_answer_bytes``.

    python benchmarks/bench_dashboard.py --hosts 10000 --runs 5 [--json]
"""

import argparse
import gc
import io
import json
import pathlib
import statistics
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_placement import machine  # noqa: E402
from benchmarks.generate_fleet import generate  # noqa: E402
from dashboard import fleet as fleet_page  # noqa: E402
from dashboard.app import Dashboard  # noqa: E402
from dashboard.source import SchedulerSource  # noqa: E402
from scheduler import host_views  # noqa: E402
from scheduler.engine.fleet import FleetView  # noqa: E402
from wire.files import parse_fleet  # noqa: E402

AGGREGATES = ('az1', 'az2', 'az3', 'edge')


class FleetAnswers:
    """The scheduler API methods the measured pages call, from a fleet in memory."""

    def __init__(self, fleet, views):
        self.fleet, self.views = fleet, views

    def hosts(self):
        return {'hosts': self.views}

    def host_detail(self, name):
        state = self.fleet.state(name)
        view = host_views.usage_view(state, up=True, enabled=True)
        return dict(view, topology=state.topology.to_dict())


def build(hosts, seed):
    document = generate(hosts, seed, templates=min(40, hosts))
    for index, host in enumerate(document['hosts']):
        host['aggregates'] = [AGGREGATES[index % len(AGGREGATES)]]
    fleet = FleetView(parse_fleet(document))
    return fleet, host_views.fleet_views(fleet)


def render(app, path, query=''):
    """(bytes, CPU seconds, wall seconds) of one page rendered by the WSGI app."""
    gc.collect()
    cpu, wall = time.process_time(), time.perf_counter()
    body = b''.join(app({'REQUEST_METHOD': 'GET', 'PATH_INFO': path, 'QUERY_STRING': query,
                         'wsgi.input': io.BytesIO()}, lambda status, headers: None))
    return len(body), time.process_time() - cpu, time.perf_counter() - wall


def offline(views):
    gc.collect()
    cpu, wall = time.process_time(), time.perf_counter()
    text = fleet_page.fleet_document(views, 'Fleet')
    return len(text.encode()), time.process_time() - cpu, time.perf_counter() - wall


def median_of(runs):
    return {'bytes': runs[0][0], 'runs': len(runs),
            'wall_ms': round(statistics.median(r[2] for r in runs) * 1000, 2),
            'cpu_ms': round(statistics.median(r[1] for r in runs) * 1000, 2)}


def bench(args):
    fleet, views = build(args.hosts, args.seed)
    app = Dashboard(SchedulerSource(FleetAnswers(fleet, views), refresh_seconds=3600),
                    page_size=args.page_size)
    host = views[len(views) // 2]['name']
    def first_view():     # the first view of a new hosts answer (after each refresh)
        fresh = Dashboard(SchedulerSource(FleetAnswers(fleet, list(views))),
                          page_size=args.page_size)
        return render(fresh, '/')
    pages = {'fleet_first': first_view, 'fleet': lambda: render(app, '/'),
             'filtered': lambda: render(app, '/', 'name=host-0&sort=free&page=3'),
             'host': lambda: render(app, f'/host/{host}'),
             'offline': lambda: offline(views)}
    results = {name: median_of([measure() for _ in range(args.runs)])
               for name, measure in pages.items()}
    return {'hosts': args.hosts, 'page_size': args.page_size,
            'hosts_answer_bytes': len(json.dumps({'hosts': views})), 'pages': results,
            'offline_over_first_cpu': round(results['offline']['cpu_ms']
                                            / max(results['fleet_first']['cpu_ms'], 0.01), 1),
            'first_over_kept_cpu': round(results['fleet_first']['cpu_ms']
                                         / max(results['fleet']['cpu_ms'], 0.01), 1)}


def print_table(report):
    info, result = report['machine'], report['result']
    print(f"machine: {info['cpu_model']}, {info['cores']} cores, Python {info['python']}")
    print(f"command: {report['command']}")
    print(f"{result['hosts']:,} hosts, {result['page_size']} rows a page; the hosts answer "
          f"is {result['hosts_answer_bytes']:,} bytes of JSON")
    print('| page | wall (median) | CPU (median) | bytes |')
    print('|------|---------------|--------------|-------|')
    for name, page in result['pages'].items():
        print(f"| {name} | {page['wall_ms']} ms | {page['cpu_ms']} ms | {page['bytes']:,} |")
    print(f"CPU: offline (every host) / first fleet page {result['offline_over_first_cpu']}x; "
          f"first fleet page / a later view {result['first_over_kept_cpu']}x")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--hosts', type=int, default=10000)
    parser.add_argument('--runs', type=int, default=5)
    parser.add_argument('--page-size', type=int, default=100)
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--json', action='store_true', help='print the report as JSON')
    args = parser.parse_args(argv)
    if args.runs < 1 or args.hosts < 1:
        parser.error('--hosts and --runs must be at least 1')
    arguments = sys.argv[1:] if argv is None else list(argv)
    command = ' '.join([sys.executable, 'benchmarks/bench_dashboard.py'] + arguments)
    report = {'machine': machine(), 'command': command, 'result': bench(args)}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_table(report)
    return 0


if __name__ == '__main__':
    sys.exit(main())
