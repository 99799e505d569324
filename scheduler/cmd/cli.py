"""``kvmfleet``: the operator CLI, a cliff application.

Each command group lists its commands in its own module (``commands()``
returning {name: cliff command class}; a group written for argparse,
``register(subparsers)`` with ``handler(args, conf)`` defaults, is wrapped);
add a group by adding its module to COMMAND_MODULES.  The commands are put
into cliff's CommandManager here, in code (no entry points, so nothing has
to be reinstalled for a new command).
``--config-file`` (repeatable) is read with oslo.config into the global CONF
before a command runs; a configuration that cannot be read is exit 2.
Table-shaped answers take cliff's ``-f table|json|yaml|csv|value`` and
``-c COLUMN``; reports (simulate, capacity, explain, console-log) take
``-f table|json|yaml``.
"""

import importlib
import logging
import sys

from cliff import app, commandmanager
from oslo_config import cfg

from scheduler.cmd.cli_base import EXIT_BAD_INPUT, argparse_commands, fail
from wire.version import version_string

# Modules whose commands() are added, in help order.
COMMAND_MODULES = (
    'scheduler.cmd.local_commands',     # simulate, capacity: files in, no services
    'scheduler.cmd.bus_commands',       # boot, list, show, ... over the bus (capacity --live)
    'scheduler.cmd.move_commands',      # migrate, host drain, evacuate, migrations
    'scheduler.cmd.group_commands',     # server-group create|list|show|delete
    'scheduler.cmd.host_commands',      # hosts: the scheduler's or a fleet file's (-f html)
    'scheduler.cmd.key_commands',       # keygen, enrol-host: message signing keys
)
CONSOLE_LEVELS = {0: logging.ERROR, 1: logging.WARNING, 2: logging.INFO}


def build_command_manager():
    """A cliff CommandManager holding every command of COMMAND_MODULES."""
    manager = commandmanager.CommandManager('kvmfleet.cli')
    for module_name in COMMAND_MODULES:
        module = importlib.import_module(module_name)
        found = (module.commands() if hasattr(module, 'commands')
                 else argparse_commands(module.register))
        for name, command in found.items():
            manager.add_command(name, command)
    return manager


def load_config(config_files, conf=None):
    """Parse ``config_files`` into ``conf`` (the global CONF by default)."""
    conf = cfg.CONF if conf is None else conf
    conf(args=[], project='kvmfleet', default_config_files=list(config_files))
    return conf


class KvmfleetApp(app.App):
    """The kvmfleet application: global options, configuration, logging."""

    NAME = 'kvmfleet'

    def __init__(self):
        super().__init__(
            description='Exact NUMA, CPU pinning, hugepage and SR-IOV placement for KVM '
                        'hosts.',
            version=version_string(), command_manager=build_command_manager(), deferred_help=True)
        self.conf, self.config_error = None, None

    def build_option_parser(self, description, version, argparse_kwargs=None):
        argparse_kwargs = dict(argparse_kwargs or {}, prog=self.NAME)
        parser = super().build_option_parser(description, version, argparse_kwargs)
        for action in parser._actions:      # cliff names its own class here, not the app
            if action.dest == 'version':
                action.version = f"{self.NAME} {version}"
        parser.add_argument('--config-file', action='append', default=[], metavar='PATH',
                            help='oslo.config file (repeatable); later files override '
                                 'earlier.')
        return parser

    def configure_logging(self):
        """Warnings and errors on stderr; -v adds INFO, -vv DEBUG (cliff's default: INFO)."""
        level = CONSOLE_LEVELS.get(self.options.verbose_level, logging.DEBUG)
        console = logging.StreamHandler(self.stderr)
        console.setLevel(level)
        console.setFormatter(logging.Formatter(self.CONSOLE_MESSAGE_FORMAT))
        root = logging.getLogger('')
        root.setLevel(logging.DEBUG if self.options.log_file else level)
        root.addHandler(console)
        if self.options.log_file:
            handler = logging.FileHandler(self.options.log_file)
            handler.setFormatter(logging.Formatter(self.LOG_FILE_MESSAGE_FORMAT))
            root.addHandler(handler)

    def initialize_app(self, argv):
        try:
            self.conf = load_config(self.options.config_file)
        except (cfg.Error, OSError) as exc:
            self.config_error = exc

    def run_subcommand(self, argv):
        if self.config_error is not None and argv[0] != 'help':
            return fail(f"configuration: {self.config_error}", EXIT_BAD_INPUT)
        return super().run_subcommand(argv)

    def interact(self):
        """No interactive shell: a command is required (exit 2, as argparse does)."""
        self.parser.print_usage(sys.stderr)
        print('kvmfleet: error: a command is required (kvmfleet help lists them)',
              file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)


def main(argv=None):
    """Run one kvmfleet command; returns (and exits with) its exit code."""
    root = logging.getLogger('')
    handlers, level = list(root.handlers), root.level
    try:
        return KvmfleetApp().run(sys.argv[1:] if argv is None else list(argv))
    finally:    # main() may run again in this process (tests)
        root.handlers[:] = handlers
        root.setLevel(level)


if __name__ == '__main__':
    sys.exit(main())
