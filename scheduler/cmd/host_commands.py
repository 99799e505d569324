"""``kvmfleet hosts``: per host and cell what is used and free, from the running scheduler
or (``--fleet FILE``) from a fleet file without services; ``-f html`` draws it with the
dashboard's renderer (docs/dashboard.md).
"""

from cliff import lister

from dashboard import fleet as dashboard_fleet
from scheduler import host_views
from scheduler.cmd import bus_render
from scheduler.cmd.bus_commands import BusCommand, every_field
from scheduler.cmd.cli_base import EXIT_BAD_INPUT, fail, with_format
from scheduler.engine.fleet import FleetView
from wire.files import FileFormatError, load_fleet


class HtmlLister(lister.Lister):
    """A Lister with ``-f html`` too, which the command writes itself (``html``)."""

    html_help = 'one HTML page'

    def get_parser(self, prog_name):
        return with_format(super().get_parser(prog_name), 'html', self.html_help)

    def run(self, parsed_args):
        if parsed_args.formatter != 'html':
            return super().run(parsed_args)
        self.take_action(parsed_args)
        self.app.stdout.write(self.html(parsed_args))
        return 0


class Hosts(BusCommand, HtmlLister):
    """Per host and cell: used/free pCPUs, pages by size, VFs by physnet.

    With --fleet FILE: the hosts of a fleet file, without services.  -f html: the
    dashboard's fleet picture as one page (docs/dashboard.md).
    """

    html_help = "the dashboard's fleet picture, one file"

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('--long', action='store_true', help='every field of each host')
        parser.add_argument('--fleet', metavar='FILE',
                            help='describe a fleet file (JSON/YAML) instead of asking the '
                                 'scheduler')
        return parser

    def run(self, parsed_args):
        if not parsed_args.fleet:
            return super().run(parsed_args)
        try:
            self.answer = host_views.fleet_views(FleetView(load_fleet(parsed_args.fleet)))
        except FileFormatError as exc:
            return fail(exc, EXIT_BAD_INPUT)
        return HtmlLister.run(self, parsed_args)

    def take_action(self, parsed_args):
        if not parsed_args.fleet:
            self.answer = self.scheduler.hosts()['hosts']
        hosts = [bus_render.with_status(h) for h in self.answer]
        names = bus_render.column_names(hosts, bus_render.HOST_COLUMNS, every_field(parsed_args))
        return names, bus_render.rows(hosts, names)

    def html(self, parsed_args):
        title = f"Fleet {parsed_args.fleet}" if parsed_args.fleet else 'Fleet'
        return dashboard_fleet.fleet_document(self.answer, title)


def commands():
    """The host listing commands by name."""
    return {'hosts': Hosts}
