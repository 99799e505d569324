"""Operator commands over the bus: boot, list, show, delete, stop, start, reboot,
console-log, hosts, host enable|disable, explain, and ``capacity`` without files.

The CLI finds the bus like the services do: ``--config-file`` or the default
oslo.config search (/etc/kvmfleet/kvmfleet.conf, ...).  Exit codes: 0 ok,
1 NoValidHost or the operation failed, 2 bad input, 3 bus unreachable.
Errors are one line on stderr: ``kvmfleet: error: <Code>: <why>``, after
``kvmfleet: request id: req-...`` (the id every log line of the scheduler and
the agents carries for this command; printed with ``-v`` on success too).
"""

import json
import sys
import time
import warnings

from cliff import lister, show
from oslo_config import cfg

from scheduler.cmd import bus_render
from scheduler.cmd.cli_base import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_UNREACHABLE,
    Report,
    UsageError,
    fail,
)

with warnings.catch_warnings():   # oslo.messaging's eventlet deprecation noise, every command
    warnings.simplefilter('ignore')
    import oslo_messaging as messaging

    from wire import context, rpc
    from wire.scheduler_rpcapi import SchedulerAPI

BAD_INPUT_CODES = (rpc.INVALID_INPUT,)
SETTLED = ('ACTIVE', 'ERROR', 'STOPPED', 'DELETED')
TARGETS = {'delete': 'DELETED', 'stop': 'STOPPED', 'start': 'ACTIVE', 'reboot': 'ACTIVE'}


def request_arguments(parser):
    """The request options of boot, explain and capacity --live."""
    parser.add_argument('--flavor', help='flavor name from the scheduler\'s flavors file')
    parser.add_argument('--vcpus', type=int, help='guest vCPUs (without --flavor)')
    parser.add_argument('--memory', type=int, metavar='MB', help='guest memory in MiB '
                        '(without --flavor)')
    parser.add_argument('--property', action='append', default=[], metavar='KEY=VALUE',
                        help='flavor extra spec (hw:...) or image property (hw_...)')
    parser.add_argument('--image', help='image name known to the agents')
    parser.add_argument('--port', action='append', default=[], metavar='physnet=NET',
                        help='an SR-IOV port on NET (vnic_type=normal for a plain port)')
    parser.add_argument('--server-group', metavar='GROUP',
                        help='member of this server group (kvmfleet server-group create)')
    return parser


def build_request(args, name):
    """The raw request dict from the command-line options; UsageError if contradictory."""
    request = {'name': name}
    if args.flavor:
        if args.vcpus or args.memory:
            raise UsageError('--flavor excludes --vcpus/--memory')
        request['flavor'] = args.flavor
    else:
        if not args.vcpus or not args.memory:
            raise UsageError('give --flavor, or both --vcpus and --memory')
        request.update(vcpus=args.vcpus, memory_mb=args.memory)
    extra, image = {}, {}
    for item in args.property:
        key, sep, value = item.partition('=')
        if not sep or not key:
            raise UsageError(f"--property {item!r}: expected KEY=VALUE")
        (image if key.startswith('hw_') or key.startswith('os_') else extra)[key] = value
    if extra:
        request['extra_specs'] = extra
    if image:
        request['image_properties'] = image
    if args.image:
        request['image'] = args.image
    ports = [_port(item) for item in args.port]
    if ports:
        request['ports'] = ports
    if args.server_group:
        request['server_group'] = args.server_group
    return request


def _port(item):
    port = {'vnic_type': 'direct'}
    for pair in item.split(','):
        key, sep, value = pair.partition('=')
        if not sep or key not in ('physnet', 'vnic_type'):
            raise UsageError(f"--port {item!r}: expected physnet=NET[,vnic_type=normal|direct]")
        port['physical_network' if key == 'physnet' else key] = value
    return port


def _connect(args, conf):
    """A SchedulerAPI, after checking the broker answers at all (oslo retries forever)."""
    if not conf.config_file:
        conf(args=[], project='kvmfleet', prog='kvmfleet')   # default config search
    addresses = rpc.broker_addresses()
    if not rpc.broker_reachable(addresses, timeout=min(args.timeout, 5.0)):
        where = ', '.join(f"{h}:{p}" for h, p in addresses)
        raise rpc.BrokerUnavailable(f"message broker {where} is not reachable")
    return SchedulerAPI(timeout=args.timeout)


class BusCommand:
    """Mixin before a cliff command: --timeout, the scheduler, the request id, exit codes.

    ``take_action`` uses ``self.scheduler`` and may set ``self.exit_code``.
    """

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('--timeout', type=float, default=30.0,
                            help='seconds to wait for the scheduler (default 30)')
        return parser

    def run(self, parsed_args):
        self.exit_code = EXIT_OK
        request_id = context.start_request().request_id
        code, line = self._guarded(parsed_args)
        if line is not None:
            return fail(line, code, request_id)
        if self.app.options.verbose_level > 1:
            print(f"kvmfleet: request id: {request_id}", file=sys.stderr)
        return code

    def _guarded(self, args):
        """(exit code, error line or None): every failure is one line and a code."""
        try:
            self.scheduler = _connect(args, self.app.conf)
            return (super().run(args) or self.exit_code), None
        except UsageError as exc:
            return EXIT_BAD_INPUT, f"InvalidInput: {exc}"
        except cfg.Error as exc:     # e.g. a bad [upgrade_levels] value
            return EXIT_BAD_INPUT, f"Configuration: {exc}"
        except rpc.BusError as exc:
            _print_explanation(exc, args)
            return (EXIT_BAD_INPUT if exc.code in BAD_INPUT_CODES else EXIT_FAILED,
                    exc.one_line())
        except rpc.BrokerUnavailable as exc:
            return EXIT_UNREACHABLE, f"BusUnreachable: {exc}"
        except messaging.MessagingTimeout:
            return EXIT_UNREACHABLE, (f"BusUnreachable: the scheduler did not answer within "
                                      f"{args.timeout:g}s")
        except messaging.MessagingException as exc:
            return EXIT_FAILED, f"BusError: {str(exc).splitlines()[0]}"

    def produce_output(self, parsed_args, column_names, data):
        try:
            return super().produce_output(parsed_args, column_names, data)
        except ValueError as exc:    # -c naming no column
            raise UsageError(f"-c: {exc}") from None


def _print_explanation(exc, args):
    explanation = (exc.details or {}).get('explanation')
    if explanation and args.formatter in ('json', 'yaml'):
        print(json.dumps(exc.details, indent=2, sort_keys=True))
    elif explanation:
        for line in explanation.get('lines', [])[1:]:
            print(line, file=sys.stderr)


def wait_settled(api, uuids, interval=0.25, out=sys.stderr, target=None):
    """Poll until every instance settled (or reached ``target``); progress on ``out``."""
    started, last = time.monotonic(), {}
    while True:
        instances = [api.show(u) for u in uuids]
        for item in instances:
            seen = (item['state'], item['task'], item['host'])
            if last.get(item['uuid']) != seen:
                last[item['uuid']] = seen
                print(f"[{time.monotonic() - started:5.1f}s] {item['name']}: {item['state']}"
                      f"{' (' + item['task'] + ')' if item['task'] else ''}"
                      f"{' on ' + item['host'] if item['host'] else ''}", file=out)
        if all(_settled(i, target) for i in instances):
            return instances
        time.sleep(interval)


def _settled(item, target):
    if target:
        return item['state'] in (target, 'ERROR') and not item['task']
    return item['state'] in SETTLED and not item['task']


def every_field(parsed_args):
    """--long, or a format for scripts (json, yaml): they get the whole answer."""
    return parsed_args.long or getattr(parsed_args, 'formatter', None) in STRUCTURED_FORMATS


# -- instances ----------------------------------------------------------------
STRUCTURED_FORMATS = ('json', 'yaml')


class InstanceLister(BusCommand, lister.Lister):
    """Base of the commands answering instances: one row each, --long for every field."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('--long', action='store_true',
                            help='every field (assignment, attempts, alternates, times)')
        return parser

    def instances(self, parsed_args, items):
        names = bus_render.column_names(items, bus_render.INSTANCE_COLUMNS,
                                        every_field(parsed_args))
        return names, bus_render.rows(items, names)


class Boot(InstanceLister):
    """Create instances: placed, claimed and launched (--wait: until ACTIVE or ERROR)."""

    def get_parser(self, prog_name):
        parser = request_arguments(super().get_parser(prog_name))
        parser.add_argument('name', help='instance name (with --count: NAME-1 ... NAME-N)')
        parser.add_argument('--count', type=int, default=1, help='instances to create '
                            '(default 1)')
        parser.add_argument('--min-count', type=int, metavar='N',
                            help='boot as many of --count as fit, failing unless at least N do '
                                 '(default 1, as Nova)')
        parser.add_argument('--uuid', action='append', default=None, metavar='UUID',
                            help='instance uuid (repeat for --count); a retry with the same '
                                 'uuid does not boot twice')
        parser.add_argument('--wait', action='store_true', help='wait until every instance '
                            'is ACTIVE or ERROR, showing progress on stderr')
        make_room_argument(parser, 'first live-migrate the instances the scheduler plans to '
                           'move (see explain --make-room), one after the other, then boot; '
                           'a failed move fails the boot (raise --timeout for long moves)')
        return parser

    def take_action(self, parsed_args):
        request = build_request(parsed_args, parsed_args.name)
        if parsed_args.count != 1:
            request['count'] = parsed_args.count
        if parsed_args.min_count is not None:
            request['min_count'] = parsed_args.min_count
        options = {'make_room': True} if parsed_args.make_room else {}
        instances = self.scheduler.boot(request, instance_uuids=parsed_args.uuid,
                                        **options)['instances']
        if parsed_args.wait:
            instances = wait_settled(self.scheduler, [i['uuid'] for i in instances])
            if not all(i['state'] == 'ACTIVE' for i in instances):
                self.exit_code = EXIT_FAILED
        return self.instances(parsed_args, instances)


class List(InstanceLister):
    """List instances."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('--state', help='only instances in this state (ACTIVE, ERROR, ...)')
        parser.add_argument('--host', help='only instances on this host')
        return parser

    def take_action(self, parsed_args):
        answer = self.scheduler.list(state=parsed_args.state, host=parsed_args.host)
        return self.instances(parsed_args, answer['instances'])


class Show(BusCommand, show.ShowOne):
    """One instance with its assignment and attempts (uuid or unique name)."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('instance', help='uuid or unique name')
        return parser

    def take_action(self, parsed_args):
        return bus_render.one(self.scheduler.show(parsed_args.instance),
                              bus_render.INSTANCE_COLUMNS)


class Lifecycle(Show):
    """Base of delete, stop, start and reboot (--wait: until done or ERROR)."""

    operation = None
    # the operation's own flag: stop --force, reboot --hard
    FLAGS = {'stop': ('force', 'power off at once, without asking the guest to shut down '
                               'first (the agent otherwise waits [agent] '
                               'graceful_shutdown_timeout)'),
             'reboot': ('hard', 'power cycle the guest instead of asking it to reboot')}

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('--wait', action='store_true',
                            help='wait until done or ERROR, showing progress on stderr')
        if self.operation in self.FLAGS:
            flag, text = self.FLAGS[self.operation]
            parser.add_argument(f'--{flag}', action='store_true', help=text)
        return parser

    def take_action(self, parsed_args):
        options = {flag: True for flag, _ in [self.FLAGS.get(self.operation, (None, None))]
                   if flag and getattr(parsed_args, flag)}
        record = getattr(self.scheduler, self.operation)(parsed_args.instance, **options)
        if parsed_args.wait:
            [record] = wait_settled(self.scheduler, [record['uuid']],
                                    target=TARGETS[self.operation])
        if record['state'] == 'ERROR':
            self.exit_code = EXIT_FAILED
        return bus_render.one(record, bus_render.INSTANCE_COLUMNS)


def _lifecycle(operation, summary):
    return type(operation.title(), (Lifecycle,), {'operation': operation, '__doc__': summary,
                                                 '__module__': __name__})


class ConsoleLog(BusCommand, Report):
    """The guest's serial console (-f json: {instance, log})."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('instance', help='uuid or unique name')
        return parser

    def take_action(self, parsed_args):
        return self.scheduler.console_log(parsed_args.instance), _log_text, EXIT_OK


def _log_text(answer):
    return answer['log'].removesuffix('\n')      # Report adds the last newline


# -- hosts and dry runs ---------------------------------------------------------
class HostSetEnabled(BusCommand, show.ShowOne):
    """Base of host enable and host disable."""

    enabled = None

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument('host', help='host name, as its agent reports it')
        parser.add_argument('--reason', help='why (shown with the host)')
        return parser

    def take_action(self, parsed_args):
        answer = self.scheduler.host_set_enabled(parsed_args.host, self.enabled,
                                                 parsed_args.reason)
        return bus_render.one(bus_render.with_status(answer), bus_render.HOST_COLUMNS)


class HostEnable(HostSetEnabled):
    """Enable a host: the scheduler places on it again."""

    enabled = True


class HostDisable(HostSetEnabled):
    """Disable a host: no new placements (what runs there stays)."""

    enabled = False


class Explain(BusCommand, Report):
    """Dry run: where would a request go, or why not (exit 1 when nowhere)."""

    def get_parser(self, prog_name):
        parser = request_arguments(super().get_parser(prog_name))
        parser.add_argument('name', nargs='?', default='explain',
                            help='request name in the answer (default: explain)')
        make_room_argument(parser, 'also the fewest live migrations (within [scheduler] '
                           'make_room_* bounds) after which the request would fit: which '
                           'instances, from where to where, with their new assignments')
        return parser

    def take_action(self, parsed_args):
        request = build_request(parsed_args, parsed_args.name)
        options = {'make_room': True} if parsed_args.make_room else {}
        answer = self.scheduler.explain(request, **options)
        fits = answer['assignments'] or (answer.get('make_room') or {}).get('found')
        return answer, bus_render.explain_text, EXIT_OK if fits else EXIT_FAILED


def make_room_argument(parser, text):
    """--make-room (scheduler RPC 1.7) of boot and explain."""
    parser.add_argument('--make-room', action='store_true', help=text)


def live_capacity(api, args, name):
    """(answer, text function, exit code) of ``capacity`` asked of the running scheduler."""
    return api.capacity(build_request(args, name)), bus_render.capacity_text, EXIT_OK


def commands():
    """The bus commands by name (capacity is in local_commands: files or --live; hosts in
    host_commands: the scheduler or a fleet file)."""
    return {
        'boot': Boot, 'list': List, 'show': Show,
        'delete': _lifecycle('delete', 'Delete an instance.'),
        'stop': _lifecycle('stop', 'Power an instance off.'),
        'start': _lifecycle('start', 'Power an instance on.'),
        'reboot': _lifecycle('reboot', 'Reboot an instance.'),
        'console-log': ConsoleLog,
        'host enable': HostEnable, 'host disable': HostDisable, 'explain': Explain,
    }
