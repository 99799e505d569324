"""``kvmfleet simulate`` and ``kvmfleet capacity``: files in, the real engine, no services.

Exit codes: 0 done (even when some requests found no host), 2 a file or the
configuration could not be read (one line naming the place).  ``capacity``
without files asks the running scheduler instead (``--live``, bus exit codes).
"""

import dataclasses

from dashboard import fleet as dashboard_fleet
from dashboard.pages import simulation_section
from scheduler import host_views
from scheduler.cmd import bus_commands, render
from scheduler.cmd.cli_base import EXIT_BAD_INPUT, EXIT_OK, Report, fail, with_format
from scheduler.cmd.simulation import run_stream
from scheduler.engine import build_engine
from scheduler.engine.capacity import capacity
from scheduler.engine.fleet import FleetView
from scheduler.engine.opts import settings_from_conf
from scheduler.specs import parse_request
from scheduler.specs.flavors import load_flavors
from wire.errors import InvalidInput
from wire.files import FileFormatError, load_fleet, load_requests


def _files(parser, required):
    parser.add_argument('--fleet', required=required, metavar='FILE',
                        help='fleet file (JSON/YAML)')
    parser.add_argument('--requests', required=required, metavar='FILE',
                        help='request file (JSON/YAML)')
    parser.add_argument('--flavors', metavar='FILE',
                        help='flavors file: named flavors and PCI aliases')
    return parser


def _inputs(args, conf):
    """(engine, hosts, raw requests, aliases, flavors) or raise FileFormatError/ValueError."""
    hosts = load_fleet(args.fleet)
    raws = load_requests(args.requests)
    aliases = flavors = None
    if args.flavors:
        catalog = load_flavors(args.flavors)
        aliases, flavors = catalog.aliases, catalog.flavors
    # Ties by name: the same files give the same answer every time (a service takes
    # equal hosts in random order, [filter_scheduler] shuffle_best_same_weighed_hosts).
    settings = dataclasses.replace(settings_from_conf(conf),
                                   shuffle_best_same_weighed_hosts=False)
    return build_engine(settings), hosts, raws, aliases, flavors


class Simulate(Report):
    """Place a request stream on a fleet file, in order (-f json: every outcome)."""

    def get_parser(self, prog_name):
        parser = _files(super().get_parser(prog_name), required=True)
        parser.add_argument('--explain', action='store_true',
                            help='explain each failure (counts per reason, nearest misses) '
                                 'and list alternates')
        return with_format(parser, 'html', 'the placements and the fleet picture after '
                                           'them, one file')

    def take_action(self, parsed_args):
        try:
            engine, hosts, raws, aliases, flavors = _inputs(parsed_args, self.app.conf)
        except (FileFormatError, ValueError) as exc:
            return None, None, fail(exc, EXIT_BAD_INPUT)
        fleet = FleetView(hosts)
        outcomes, summary = run_stream(engine, fleet, raws, aliases, flavors,
                                       explain=parsed_args.explain)

        def text(data):
            if parsed_args.formatter == 'html':
                return dashboard_fleet.fleet_document(
                    host_views.fleet_views(fleet), f"Simulation of {parsed_args.requests}",
                    before=simulation_section(data['requests'], data['summary']))
            return render.simulate_table(data['requests'], data['summary'],
                                         explain=parsed_args.explain)
        return {'requests': outcomes, 'summary': summary}, text, EXIT_OK


class Capacity(bus_commands.BusCommand, Report):
    """How many more of each request shape fit, and what runs out first.

    With --fleet and --requests: computed from the files.  Without them (or with
    --live NAME): asked of the running scheduler, with the request options.
    """

    def get_parser(self, prog_name):
        parser = _files(super().get_parser(prog_name), required=False)
        parser.add_argument('--live', dest='live_name', metavar='NAME', nargs='?',
                            const='capacity',
                            help='ask the running scheduler instead of files (with the '
                                 'request options below)')
        return bus_commands.request_arguments(parser)

    def run(self, parsed_args):
        if self._from_files(parsed_args):
            return Report.run(self, parsed_args)
        return super().run(parsed_args)

    @staticmethod
    def _from_files(parsed_args):
        return bool(parsed_args.fleet or parsed_args.requests)

    def take_action(self, parsed_args):
        if not self._from_files(parsed_args):
            return bus_commands.live_capacity(self.scheduler, parsed_args,
                                              parsed_args.live_name or 'capacity')
        try:
            engine, hosts, raws, aliases, flavors = _inputs(parsed_args, self.app.conf)
        except (FileFormatError, ValueError) as exc:
            return None, None, fail(exc, EXIT_BAD_INPUT)
        specs, invalid = [], []
        for index, raw in enumerate(raws):
            try:
                specs.append(parse_request(raw, aliases, flavors))
            except InvalidInput as exc:
                invalid.append({'index': index, 'request': str(raw.get('name') or index),
                                'errors': exc.to_list()})
        results = [r.to_dict() for r in capacity(specs, FleetView(hosts), engine)]

        def text(data):
            return render.capacity_table(data['shapes'], data['invalid'])
        return {'shapes': results, 'invalid': invalid}, text, EXIT_OK


def commands():
    """The local commands by name."""
    return {'simulate': Simulate, 'capacity': Capacity}
