"""Operator commands over the bus: boot, list, show, delete, stop, start, reboot,
console-log, hosts, host enable|disable, explain, and ``capacity`` without files.

The CLI finds the bus like the services do: ``--config-file`` or the default
oslo.config search (/etc/kvmfleet/kvmfleet.conf, ...).  Exit codes: 0 ok,
1 NoValidHost or the operation failed, 2 bad input, 3 bus unreachable.
Errors are one line on stderr: ``kvmfleet: error: <Code>: <why>``.
"""

import json
import sys
import time
import warnings

from oslo_config import cfg

from scheduler.cmd import bus_render

with warnings.catch_warnings():   # oslo.messaging's eventlet deprecation noise, every command
    warnings.simplefilter('ignore')
    import oslo_messaging as messaging

    from wire import rpc
    from wire.scheduler_rpcapi import SchedulerAPI

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_UNREACHABLE = 0, 1, 2, 3
BAD_INPUT_CODES = (rpc.INVALID_INPUT,)
SETTLED = ('ACTIVE', 'ERROR', 'STOPPED', 'DELETED')


class UsageError(ValueError):
    """A command-line value the CLI itself refuses (exit 2)."""


def register(subparsers):
    """Add the bus commands to the kvmfleet parser."""
    boot = _command(subparsers, 'boot', 'create instances (placed, claimed, launched)',
                    run_boot)
    boot.add_argument('name')
    _request_arguments(boot)
    boot.add_argument('--count', type=int, default=1)
    boot.add_argument('--uuid', action='append', default=None, metavar='UUID',
                      help='instance uuid (repeat for --count); a retry with the same '
                           'uuid does not boot twice')
    boot.add_argument('--wait', action='store_true', help='wait until every instance '
                      'is ACTIVE or ERROR, showing progress')
    listing = _command(subparsers, 'list', 'list instances', run_list)
    listing.add_argument('--state')
    listing.add_argument('--host')
    for name, helptext in (('show', 'one instance with its assignment'),
                           ('delete', 'delete an instance'), ('stop', 'power off'),
                           ('start', 'power on'), ('reboot', 'reboot'),
                           ('console-log', "the guest's serial console")):
        parser = _command(subparsers, name, helptext, run_instance_command)
        parser.add_argument('instance', help='uuid or unique name')
        if name in ('delete', 'stop', 'start', 'reboot'):
            parser.add_argument('--wait', action='store_true')
    _command(subparsers, 'hosts', 'per host and cell: used/free pCPUs, pages, VFs', run_hosts)
    host = _command(subparsers, 'host', 'enable or disable a host', run_host)
    host.add_argument('action', choices=('enable', 'disable'))
    host.add_argument('host')
    host.add_argument('--reason')
    explain = _command(subparsers, 'explain', 'dry run: where would it go, or why not',
                       run_explain)
    explain.add_argument('name', nargs='?', default='explain')
    _request_arguments(explain)
    _extend_capacity(subparsers)


def _command(subparsers, name, helptext, handler):
    parser = subparsers.add_parser(name, help=helptext)
    parser.add_argument('--format', choices=('table', 'json'), default='table')
    parser.add_argument('--timeout', type=float, default=30.0,
                        help='seconds to wait for the scheduler (default 30)')
    parser.set_defaults(handler=_guarded(handler))
    return parser


def _request_arguments(parser):
    parser.add_argument('--flavor', help='flavor name from the scheduler\'s flavors file')
    parser.add_argument('--vcpus', type=int)
    parser.add_argument('--memory', type=int, metavar='MB')
    parser.add_argument('--property', action='append', default=[], metavar='KEY=VALUE',
                        help='flavor extra spec (hw:...) or image property (hw_...)')
    parser.add_argument('--image', help='image name known to the agents')
    parser.add_argument('--port', action='append', default=[], metavar='physnet=NET',
                        help='an SR-IOV port on NET (vnic_type=normal for a plain port)')


def _extend_capacity(subparsers):
    """``capacity`` without --fleet asks the scheduler about the live fleet."""
    local = subparsers.choices.get('capacity')
    if local is None:
        parser = _command(subparsers, 'capacity', 'how many more of a request fit',
                          run_capacity)
        parser.add_argument('name', nargs='?', default='capacity')
        _request_arguments(parser)
        return
    for action in local._actions:
        if action.dest in ('fleet', 'requests'):
            action.required = False
    local.add_argument('--live', dest='live_name', metavar='NAME', nargs='?', const='capacity',
                       help='ask the running scheduler instead of files (with the request '
                            'options below)')
    _request_arguments(local)
    local.add_argument('--timeout', type=float, default=30.0)
    files_handler = local.get_default('handler')

    def either(args, conf):
        if args.fleet or args.requests:
            return files_handler(args, conf)
        args.name = args.live_name or 'capacity'
        return _guarded(run_capacity)(args, conf)
    local.set_defaults(handler=either)


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


def _guarded(handler):
    """Run a handler; map every failure to one line on stderr and an exit code."""
    def run(args, conf):
        try:
            return handler(args, _connect(args, conf), args.format == 'json')
        except UsageError as exc:
            return _fail(f"InvalidInput: {exc}", EXIT_BAD_INPUT)
        except cfg.Error as exc:     # e.g. a bad [upgrade_levels] value
            return _fail(f"Configuration: {exc}", EXIT_BAD_INPUT)
        except rpc.BusError as exc:
            code = EXIT_BAD_INPUT if exc.code in BAD_INPUT_CODES else EXIT_FAILED
            _print_explanation(exc, args)
            return _fail(exc.one_line(), code)
        except rpc.BrokerUnavailable as exc:
            return _fail(f"BusUnreachable: {exc}", EXIT_UNREACHABLE)
        except messaging.MessagingTimeout:
            return _fail(f"BusUnreachable: the scheduler did not answer within "
                         f"{args.timeout:g}s", EXIT_UNREACHABLE)
        except messaging.MessagingException as exc:
            return _fail(f"BusError: {str(exc).splitlines()[0]}", EXIT_FAILED)
    return run


def _fail(line, code):
    print(f"kvmfleet: error: {line}", file=sys.stderr)
    return code


def _print_explanation(exc, args):
    explanation = (exc.details or {}).get('explanation')
    if explanation and args.format == 'json':
        print(json.dumps(exc.details, indent=2, sort_keys=True))
    elif explanation:
        for line in explanation.get('lines', [])[1:]:
            print(line, file=sys.stderr)


def _emit(data, as_json, table):
    print(json.dumps(data, indent=2, sort_keys=True) if as_json else table(data))


# -- handlers ---------------------------------------------------------------
def run_boot(args, api, as_json):
    request = build_request(args, args.name)
    if args.count != 1:
        request['count'] = args.count
    answer = api.boot(request, instance_uuids=args.uuid)
    if not args.wait:
        _emit(answer, as_json, bus_render.instances_table)
        return EXIT_OK
    instances = wait_settled(api, [i['uuid'] for i in answer['instances']])
    _emit({'instances': instances}, as_json, bus_render.instances_table)
    return EXIT_OK if all(i['state'] == 'ACTIVE' for i in instances) else EXIT_FAILED


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


def run_list(args, api, as_json):
    _emit(api.list(state=args.state, host=args.host), as_json, bus_render.instances_table)
    return EXIT_OK


TARGETS = {'delete': 'DELETED', 'stop': 'STOPPED', 'start': 'ACTIVE', 'reboot': 'ACTIVE'}


def run_instance_command(args, api, as_json):
    command = args.command
    if command == 'show':
        _emit(api.show(args.instance), as_json, bus_render.instance_detail)
        return EXIT_OK
    if command == 'console-log':
        answer = api.console_log(args.instance)
        print(json.dumps(answer, indent=2) if as_json else answer['log'], end='' if not
              as_json else '\n')
        return EXIT_OK
    record = getattr(api, command)(args.instance)
    if getattr(args, 'wait', False):
        [record] = wait_settled(api, [record['uuid']], target=TARGETS[command])
    _emit({'instances': [record]}, as_json, bus_render.instances_table)
    return EXIT_FAILED if record['state'] == 'ERROR' else EXIT_OK


def run_hosts(args, api, as_json):
    _emit(api.hosts(), as_json, bus_render.hosts_table)
    return EXIT_OK


def run_host(args, api, as_json):
    answer = api.host_set_enabled(args.host, args.action == 'enable', args.reason)
    _emit({'hosts': [answer]}, as_json, bus_render.hosts_table)
    return EXIT_OK


def run_explain(args, api, as_json):
    answer = api.explain(build_request(args, args.name))
    _emit(answer, as_json, bus_render.explain_text)
    return EXIT_OK if answer['assignments'] else EXIT_FAILED


def run_capacity(args, api, as_json):
    answer = api.capacity(build_request(args, args.name))
    _emit(answer, as_json, bus_render.capacity_text)
    return EXIT_OK
