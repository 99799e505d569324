"""What every ``kvmfleet`` command shares: exit codes, one-line errors, report output.

Exit codes: 0 ok, 1 NoValidHost or the operation failed, 2 bad input (a
command-line value, a file, the configuration), 3 bus unreachable.  Errors
are one line on stderr, the last one: ``kvmfleet: error: <Code>: <why>``.
"""

import argparse
import json
import sys

import yaml
from cliff import command

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_UNREACHABLE = 0, 1, 2, 3
REPORT_FORMATS = ('table', 'json', 'yaml')


class UsageError(ValueError):
    """A command-line value the CLI itself refuses (exit 2)."""


def fail(line, code, request_id=None):
    """Print the one-line error (after the request id, when a request was made)."""
    if request_id:
        print(f"kvmfleet: request id: {request_id}", file=sys.stderr)
    print(f"kvmfleet: error: {line}", file=sys.stderr)
    return code


def dump(data, formatter):
    """``data`` as JSON or YAML text."""
    if formatter == 'yaml':
        return yaml.safe_dump(data, default_flow_style=False, sort_keys=False).rstrip('\n')
    return json.dumps(data, indent=2)


def with_format(parser, name, text):
    """Add ``name`` to the command's ``-f`` choices (e.g. html, which the command writes
    itself), saying what it gives in the option's help."""
    for action in parser._actions:
        if action.dest == 'formatter':
            action.choices = [*action.choices, name]
            action.help = f"{action.help or ''} ({name}: {text})".strip()
    return parser


class Report(command.Command):
    """A command whose readable output is not a table: text, or ``-f json|yaml`` data.

    ``take_action`` returns (data, text function, exit code); the text function
    writes every format but json and yaml (the table, and html where a command adds it).
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('-f', '--format', dest='formatter', choices=REPORT_FORMATS,
                            default='table',
                            help='table: the readable report (default); json or yaml: '
                                 'the data')
        return parser

    def run(self, parsed_args):
        data, text, code = self.take_action(parsed_args)
        if data is not None:
            output = dump(data, parsed_args.formatter) if parsed_args.formatter in (
                'json', 'yaml') else text(data)
            self.app.stdout.write(output + '\n')
        return code


class ArgparseCommand(command.Command):
    """A command written for argparse: its own parser, ``handler(args, conf) -> exit code``."""

    parser = None

    def get_parser(self, prog_name):
        self.parser.prog = prog_name
        return self.parser

    def take_action(self, parsed_args):
        return parsed_args.handler(parsed_args, self.app.conf)


def argparse_commands(register):
    """{name: command} for a group that adds argparse subparsers (``register(subparsers)``)."""
    subparsers = argparse.ArgumentParser(prog='kvmfleet').add_subparsers()
    register(subparsers)
    helps = {action.dest: action.help for action in subparsers._choices_actions}
    return {name: type(name.title().replace('-', ''), (ArgparseCommand,),
                       {'parser': parser, '__doc__': helps.get(name) or name,
                        '__module__': register.__module__})
            for name, parser in subparsers.choices.items()}
