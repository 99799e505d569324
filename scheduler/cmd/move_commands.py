"""Operator commands of moves over the bus: migrate, host drain, evacuate, migrations,
resize, resize-confirm, resize-revert.

``-f json|yaml`` gives every field the scheduler answered (docs/migration.md).
Exit codes as the other bus commands: 1 when a move failed or could not start.
"""

import sys
import time

from cliff import lister, show

from scheduler.cmd import bus_render
from scheduler.cmd.bus_commands import (
    BusCommand,
    build_request,
    every_field,
    request_arguments,
    wait_settled,
)
from scheduler.cmd.cli_base import EXIT_FAILED

MIGRATION_COLUMNS = ('uuid', 'instance_uuid', 'kind', 'status', 'source_host', 'dest_host',
                     'reason')
DRAIN_COLUMNS = ('instance', 'outcome', 'detail')
FINISHED = ('done', 'failed')
# A resize waits for confirmation once its guest moved ('finished'), or ended
RESIZE_WAITS = ('finished', 'done', 'failed', 'reverted')


def wait_migration(api, migration, interval=0.25, out=None, timeout=None, until=FINISHED):
    """Poll the migration record until its status is one of ``until`` (done or
    failed); progress on ``out`` (default stderr)."""
    out = out or sys.stderr
    started, last = time.monotonic(), None
    while True:
        [record] = [m for m in api.migrations(instance=migration['instance_uuid'])
                    ['migrations'] if m['uuid'] == migration['uuid']] or [migration]
        if record['status'] != last:
            last = record['status']
            print(f"[{time.monotonic() - started:5.1f}s] migration {record['uuid']}: "
                  f"{record['status']}", file=out)
        if record['status'] in until:
            return record
        if timeout is not None and time.monotonic() - started > timeout:
            return record
        time.sleep(interval)


class Migrate(BusCommand, show.ShowOne):
    """Move an instance to another host (live with --live; cold otherwise)."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('instance', help='uuid or unique name')
        parser.add_argument('--live', action='store_true',
                            help='live migration: the guest keeps running (default: cold, '
                                 'the guest is stopped, moved and started)')
        parser.add_argument('--host', help='destination host; refused with the reason when '
                                           'the instance does not fit there')
        parser.add_argument('--wait', action='store_true',
                            help='wait until the move is done or failed, showing progress')
        return parser

    def take_action(self, parsed_args):
        record = self.scheduler.migrate(parsed_args.instance, live=parsed_args.live,
                                        host=parsed_args.host)
        if parsed_args.wait and record['status'] not in FINISHED:
            record = wait_migration(self.scheduler, record)
        if record['status'] == 'failed':
            self.exit_code = EXIT_FAILED
        return bus_render.one(record, MIGRATION_COLUMNS)


class Migrations(BusCommand, lister.Lister):
    """Migration records, oldest first."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('--instance', help='only this instance (uuid or unique name)')
        parser.add_argument('--host', help='only moves from or to this host')
        parser.add_argument('--active', action='store_true',
                            help='only moves in progress (their destination is claimed)')
        parser.add_argument('--long', action='store_true',
                            help='every field (both assignments, times, request id)')
        return parser

    def take_action(self, parsed_args):
        items = self.scheduler.migrations(instance=parsed_args.instance,
                                          host=parsed_args.host,
                                          active=parsed_args.active)['migrations']
        names = bus_render.column_names(items, MIGRATION_COLUMNS, every_field(parsed_args))
        return names, bus_render.rows(items, names)


def drain_rows(progress):
    """One row per instance of a drain: moved (to where), failed (why), or pending."""
    rows = [{'instance': u, 'outcome': 'moved', 'detail': f"to {h}"}
            for u, h in sorted(progress['moved'].items())]
    rows += [{'instance': u, 'outcome': 'not moved', 'detail': why}
             for u, why in sorted(progress['failed'].items())]
    rows += [{'instance': u, 'outcome': 'moving', 'detail': f"migration {m}"}
             for u, m in sorted(progress['in_flight'].items())]
    rows += [{'instance': u, 'outcome': 'pending', 'detail': ''} for u in progress['pending']]
    return rows


def progress_line(progress, started):
    return (f"[{time.monotonic() - started:5.1f}s] {progress['host']}: "
            f"{len(progress['moved'])}/{progress['total']} moved, "
            f"{len(progress['in_flight'])} moving, {len(progress['failed'])} not moved")


class HostDrain(BusCommand, lister.Lister):
    """Disable a host and move every instance off it (live where it can go live)."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('host', help='host name, as its agent reports it')
        parser.add_argument('--cold', action='store_true', help='cold-migrate every instance')
        parser.add_argument('--concurrency', type=int,
                            help='migrations at a time (default [scheduler] drain_concurrency)')
        parser.add_argument('--wait', action='store_true',
                            help='wait until the drain ends, showing progress on stderr')
        return parser

    def take_action(self, parsed_args):
        progress = self.scheduler.host_drain(parsed_args.host, live=not parsed_args.cold,
                                             concurrency=parsed_args.concurrency)
        started, last = time.monotonic(), None
        while parsed_args.wait and not progress['done']:
            line = progress_line(progress, started)
            if line.split('] ', 1)[1] != last:
                last = line.split('] ', 1)[1]
                print(line, file=sys.stderr)
            time.sleep(0.5)
            progress = self.scheduler.drain_status(parsed_args.host)
        if progress['failed']:
            self.exit_code = EXIT_FAILED
        if getattr(parsed_args, 'formatter', None) in ('json', 'yaml'):    # one row: all
            names = tuple(sorted(progress))
            return names, bus_render.rows([progress], names)
        if parsed_args.wait:
            print(progress_line(progress, started), file=sys.stderr)
        return DRAIN_COLUMNS, bus_render.rows(drain_rows(progress), DRAIN_COLUMNS)


class Evacuate(BusCommand, lister.Lister):
    """Rebuild elsewhere every instance of a host that is down (and fenced)."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('host', help='the host that is down')
        parser.add_argument('--wait', action='store_true',
                            help='wait until every rebuilt instance is ACTIVE or ERROR')
        parser.add_argument('--long', action='store_true', help='every field')
        return parser

    def take_action(self, parsed_args):
        items = self.scheduler.evacuate(parsed_args.host)['migrations']
        if any(m['status'] == 'failed' for m in items):
            self.exit_code = EXIT_FAILED
        if parsed_args.wait:
            moved = [m['instance_uuid'] for m in items if m['status'] == 'done']
            if moved and not all(i['state'] == 'ACTIVE'
                                 for i in wait_settled(self.scheduler, moved)):
                self.exit_code = EXIT_FAILED
        names = bus_render.column_names(items, MIGRATION_COLUMNS, every_field(parsed_args))
        return names, bus_render.rows(items, names)


class Resize(BusCommand, show.ShowOne):
    """Resize an instance (a cold move to a placement of the new size; its own host when
    both sizes fit there); it waits in RESIZED for resize-confirm or resize-revert."""

    def get_parser(self, prog_name):
        parser = request_arguments(super().get_parser(prog_name))
        parser.add_argument('instance', help='uuid or unique name')
        parser.add_argument('--wait', action='store_true',
                            help='wait until the instance is RESIZED or the resize failed')
        return parser

    def take_action(self, parsed_args):
        request = build_request(parsed_args, None)
        del request['name']
        record = self.scheduler.resize(parsed_args.instance, request)
        if parsed_args.wait:
            record = wait_migration(self.scheduler, record, until=RESIZE_WAITS)
            if record['status'] == 'finished':      # moved: the destination starts it
                [instance] = wait_settled(self.scheduler, [record['instance_uuid']],
                                          out=sys.stderr, target='RESIZED')
                if instance['state'] != 'RESIZED':
                    self.exit_code = EXIT_FAILED
        if record['status'] == 'failed':
            self.exit_code = EXIT_FAILED
        return bus_render.one(record, MIGRATION_COLUMNS)


class ResizeConfirm(BusCommand, show.ShowOne):
    """Keep a RESIZED instance's new size: its source host's claim and copy are freed."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('instance', help='uuid or unique name')
        return parser

    def take_action(self, parsed_args):
        return bus_render.one(self.scheduler.resize_confirm(parsed_args.instance),
                              MIGRATION_COLUMNS)


class ResizeRevert(ResizeConfirm):
    """Go back to the old size on the source host: the destination's claim and copy
    are freed, the source's kept copy started again."""

    def take_action(self, parsed_args):
        return bus_render.one(self.scheduler.resize_revert(parsed_args.instance),
                              MIGRATION_COLUMNS)


def commands():
    return {'migrate': Migrate, 'migrations': Migrations, 'host drain': HostDrain,
            'evacuate': Evacuate, 'resize': Resize, 'resize-confirm': ResizeConfirm,
            'resize-revert': ResizeRevert}
