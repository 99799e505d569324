"""``kvmfleet``: the operator CLI.

This module only builds the parser; each command group registers its
subcommands from its own module (``register(subparsers)`` setting a
``handler(args, conf) -> exit code`` default).  Add a group by adding its
module to COMMAND_MODULES.  ``--config-file`` (repeatable) is read with
oslo.config into the global CONF before the handler runs.
"""

import argparse
import importlib
import sys

from oslo_config import cfg

from wire.version import add_version_argument

# Modules whose register(subparsers) adds subcommands, in help order.
COMMAND_MODULES = (
    'scheduler.cmd.local_commands',     # simulate, capacity: files in, no services
    'scheduler.cmd.bus_commands',       # boot, list, show, ... over the bus (capacity --live)
)


def build_parser():
    """The argparse parser with every registered command group."""
    parser = argparse.ArgumentParser(
        prog='kvmfleet',
        description='Exact NUMA, CPU pinning, hugepage and SR-IOV placement for KVM hosts.')
    add_version_argument(parser, 'kvmfleet')
    parser.add_argument('--config-file', action='append', default=[], metavar='PATH',
                        help='oslo.config file (repeatable); later files override earlier.')
    subparsers = parser.add_subparsers(dest='command', metavar='COMMAND', required=True)
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def load_config(config_files, conf=None):
    """Parse ``config_files`` into ``conf`` (the global CONF by default)."""
    conf = cfg.CONF if conf is None else conf
    conf(args=[], project='kvmfleet', default_config_files=list(config_files))
    return conf


def main(argv=None):
    """Run one kvmfleet command; returns (and exits with) its exit code."""
    parser = build_parser()
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        conf = load_config(args.config_file)
    except (cfg.Error, OSError) as exc:
        print(f"kvmfleet: error: configuration: {exc}", file=sys.stderr)
        return 2
    return args.handler(args, conf)


if __name__ == '__main__':
    sys.exit(main())
