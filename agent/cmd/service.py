"""``kvmfleet-agent``: the agent's command line.

Subcommands parse their own arguments; everything else (``--config-file``,
``--config-dir``, ...) goes to oslo.config.
"""

import argparse
import sys

from oslo_config import cfg

from agent.cmd import discover, keys, run
from wire.version import add_version_argument, version_line

PROJECT = 'kvmfleet'


def build_parser():
    """The argparse parser with one subparser per subcommand."""
    parser = argparse.ArgumentParser(
        prog='kvmfleet-agent', description='kvmfleet per-host agent',
        epilog='Other options (--config-file, --config-dir) are read by oslo.config.')
    add_version_argument(parser, 'kvmfleet-agent')
    run.add_arguments(parser)   # no subcommand: run the agent service
    commands = parser.add_subparsers(dest='command')
    discover.add_arguments(commands.add_parser(
        'discover', help='print the host topology this agent reports'))
    keys.add_keygen_arguments(commands.add_parser(
        'keygen', help="make this host's signing key pair"))
    keys.add_trust_arguments(commands.add_parser(
        'trust-scheduler', help="obey orders signed with this scheduler's key"))
    return parser


def load_config(conf_args, conf=cfg.CONF):
    """Parse oslo.config arguments (config files); exit 2 on a bad option."""
    try:
        conf(conf_args, project=PROJECT, prog='kvmfleet-agent',
             version=version_line('kvmfleet-agent'))
    except (cfg.Error, ValueError) as exc:
        print(f"kvmfleet-agent: configuration: {exc}", file=sys.stderr)
        sys.exit(2)


def main(argv=None):
    """Entry point of the console script."""
    parser = build_parser()
    args, conf_args = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    conf_args = run.config_args(args) + conf_args
    if (args.command is None and not conf_args and not args.simulate_fleet
            and not cfg.find_config_files(project=PROJECT, prog='kvmfleet-agent')):
        # Nothing given and no config file in oslo's default places: help, not a
        # service running on defaults nobody chose.
        parser.print_help(sys.stderr)
        return 2
    load_config(conf_args)
    if args.command is None:
        return run.run(args)
    if args.command == 'discover':
        return discover.run(args)
    if args.command == 'keygen':
        return keys.run_keygen(args)
    if args.command == 'trust-scheduler':
        return keys.run_trust(args)
    parser.error(f"unknown command {args.command}")


if __name__ == '__main__':
    sys.exit(main())
