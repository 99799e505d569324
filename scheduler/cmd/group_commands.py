"""``kvmfleet server-group create|list|show|delete``: server groups over the bus."""

from cliff import lister, show

from scheduler.cmd import bus_render
from scheduler.cmd.bus_commands import BusCommand, every_field
from scheduler.cmd.cli_base import UsageError

POLICIES = ('affinity', 'anti-affinity', 'soft-affinity', 'soft-anti-affinity')
GROUP_COLUMNS = ('name', 'policy', 'rules', 'members')


class MemberColumn(bus_render.DataColumn):
    def human_readable(self):
        if isinstance(self._value, int):
            return str(self._value)
        return '\n'.join(f"{m['name']} ({m['uuid']}) {m['state']}"
                         f"{' on ' + m['host'] if m['host'] else ''}" for m in self._value)


def _one(group):
    names = bus_render.column_names([group], GROUP_COLUMNS, long=True)
    return names, tuple(MemberColumn(group[k]) if k == 'members' else bus_render.value(k, group)
                        for k in names)


def rules(items):
    """``--rule KEY=VALUE`` options as Nova's rules object (the scheduler checks the values)."""
    result = {}
    for item in items:
        key, sep, value = item.partition('=')
        if not sep or not key:
            raise UsageError(f"--rule {item!r}: expected KEY=VALUE")
        result[key] = int(value) if value.isascii() and value.isdigit() else value
    return result


class Create(BusCommand, show.ShowOne):
    """Create a server group; its policy and rules never change afterwards."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('name', help='group name (unique)')
        parser.add_argument('--policy', required=True, choices=POLICIES,
                            help='where members may run relative to each other')
        parser.add_argument('--rule', action='append', default=[], metavar='KEY=VALUE',
                            help="max_server_per_host=N (anti-affinity only; default 1)")
        return parser

    def take_action(self, parsed_args):
        group = {'name': parsed_args.name, 'policy': parsed_args.policy}
        if parsed_args.rule:
            group['rules'] = rules(parsed_args.rule)
        return _one(self.scheduler.server_group_create(group))


class List(BusCommand, lister.Lister):
    """Server groups with their policy, rules and member count."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('--long', action='store_true', help='every field of each group')
        return parser

    def take_action(self, parsed_args):
        groups = self.scheduler.server_group_list()['server_groups']
        names = bus_render.column_names(groups, GROUP_COLUMNS, every_field(parsed_args))
        return names, bus_render.rows(groups, names)


class Show(BusCommand, show.ShowOne):
    """One server group with its members (instances not deleted)."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('name', help='group name')
        return parser

    def take_action(self, parsed_args):
        return _one(self.scheduler.server_group_show(parsed_args.name))


class Delete(Show):
    """Delete a server group without members."""

    def take_action(self, parsed_args):
        deleted = self.scheduler.server_group_delete(parsed_args.name)
        return bus_render.one(deleted, GROUP_COLUMNS[:3])


def commands():
    return {'server-group create': Create, 'server-group list': List,
            'server-group show': Show, 'server-group delete': Delete}
