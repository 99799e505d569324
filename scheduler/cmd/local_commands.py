"""``kvmfleet simulate`` and ``kvmfleet capacity``: files in, the real engine, no services.

Exit codes: 0 done (even when some requests found no host), 2 a file or the
configuration could not be read (one line naming the place).
"""

import json
import sys

from scheduler.capacity import capacity
from scheduler.cmd import render
from scheduler.cmd.simulation import run_stream
from scheduler.engine import build_engine
from scheduler.engine_opts import settings_from_conf
from scheduler.fleet import FleetView
from scheduler.specs import parse_request
from scheduler.specs.flavors import load_flavors
from wire.errors import InvalidInput
from wire.files import FileFormatError, load_fleet, load_requests

EXIT_OK, EXIT_BAD_INPUT = 0, 2


def register(subparsers):
    """Add ``simulate`` and ``capacity`` to the kvmfleet parser."""
    simulate = subparsers.add_parser(
        'simulate', help='place a request stream on a fleet file, in order')
    _common(simulate)
    simulate.add_argument('--explain', action='store_true',
                          help='explain each failure (counts per reason, nearest misses) '
                               'and list alternates')
    simulate.set_defaults(handler=run_simulate)
    capacity_parser = subparsers.add_parser(
        'capacity', help='how many more of each request shape fit, and what runs out first')
    _common(capacity_parser)
    capacity_parser.set_defaults(handler=run_capacity)


def _common(parser):
    parser.add_argument('--fleet', required=True, metavar='FILE', help='fleet file (JSON/YAML)')
    parser.add_argument('--requests', required=True, metavar='FILE',
                        help='request file (JSON/YAML)')
    parser.add_argument('--flavors', metavar='FILE',
                        help='flavors file: named flavors and PCI aliases')
    parser.add_argument('--format', choices=('table', 'json'), default='table')


def _inputs(args):
    """(hosts, raw requests, aliases, flavors) or raise FileFormatError."""
    hosts = load_fleet(args.fleet)
    raws = load_requests(args.requests)
    if args.flavors:
        catalog = load_flavors(args.flavors)
        return hosts, raws, catalog.aliases, catalog.flavors
    return hosts, raws, None, None


def _fail(message):
    print(f"kvmfleet: error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def run_simulate(args, conf):
    """Place every request in order; print the table or JSON."""
    try:
        hosts, raws, aliases, flavors = _inputs(args)
        engine = build_engine(settings_from_conf(conf))
    except (FileFormatError, ValueError) as exc:
        return _fail(exc)
    outcomes, summary = run_stream(engine, FleetView(hosts), raws, aliases, flavors,
                                   explain=args.explain)
    if args.format == 'json':
        json.dump({'requests': outcomes, 'summary': summary}, sys.stdout, indent=2)
        sys.stdout.write('\n')
    else:
        print(render.simulate_table(outcomes, summary, explain=args.explain))
    return EXIT_OK


def run_capacity(args, conf):
    """For each distinct request shape: how many more fit, and what runs out first."""
    try:
        hosts, raws, aliases, flavors = _inputs(args)
        engine = build_engine(settings_from_conf(conf))
    except (FileFormatError, ValueError) as exc:
        return _fail(exc)
    specs, invalid = [], []
    for index, raw in enumerate(raws):
        try:
            specs.append(parse_request(raw, aliases, flavors))
        except InvalidInput as exc:
            invalid.append({'index': index, 'request': str(raw.get('name') or index),
                            'errors': exc.to_list()})
    results = [r.to_dict() for r in capacity(specs, FleetView(hosts), engine)]
    if args.format == 'json':
        json.dump({'shapes': results, 'invalid': invalid}, sys.stdout, indent=2)
        sys.stdout.write('\n')
    else:
        print(render.capacity_table(results, invalid))
    return EXIT_OK
