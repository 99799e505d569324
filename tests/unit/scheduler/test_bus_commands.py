"""The bus CLI: request building, exit codes and one-line errors (scheduler faked)."""

import argparse
import json

import oslo_messaging as messaging
import pytest

from scheduler.cmd import bus_commands, cli
from wire import context, rpc


def parse(*argv):
    """The parsed arguments of one command, as cliff gives them to take_action."""
    application = cli.KvmfleetApp()
    command_class, name, rest = application.command_manager.find_command(list(argv))
    return command_class(application, None).get_parser(f"kvmfleet {name}").parse_args(rest)


@pytest.mark.parametrize('argv,expected', [
    (('boot', 'web', '--flavor', 'c1.pinned'), {'name': 'web', 'flavor': 'c1.pinned'}),
    (('boot', 'web', '--vcpus', '2', '--memory', '512', '--property', 'hw:cpu_policy=dedicated',
      '--property', 'hw_cpu_max_sockets=1', '--image', 'test-guest',
      '--port', 'physnet=physnet1', '--port', 'physnet=p2,vnic_type=normal'),
     {'name': 'web', 'vcpus': 2, 'memory_mb': 512,
      'extra_specs': {'hw:cpu_policy': 'dedicated'},
      'image_properties': {'hw_cpu_max_sockets': '1'}, 'image': 'test-guest',
      'ports': [{'vnic_type': 'direct', 'physical_network': 'physnet1'},
                {'vnic_type': 'normal', 'physical_network': 'p2'}]}),
])
def test_request_from_options(argv, expected):
    args = parse(*argv)
    assert bus_commands.build_request(args, args.name) == expected


@pytest.mark.parametrize('argv,rule', [
    (('boot', 'x', '--flavor', 'f', '--vcpus', '1'), '--flavor excludes'),
    (('boot', 'x', '--vcpus', '1'), 'give --flavor, or both'),
    (('boot', 'x', '--flavor', 'f', '--property', 'novalue'), 'KEY=VALUE'),
    (('boot', 'x', '--flavor', 'f', '--port', 'net=1'), 'physnet=NET'),
])
def test_contradictory_options_are_refused(argv, rule):
    args = parse(*argv)
    with pytest.raises(bus_commands.UsageError, match=rule):
        bus_commands.build_request(args, args.name)


class FakeAPI:
    def __init__(self, failure=None):
        self.failure = failure
        self.calls = []

    def __getattr__(self, name):
        def method(*args, **kwargs):
            self.calls.append((name, args, kwargs))
            if self.failure:
                raise self.failure
            if name == 'show':
                return RECORD
            return {'instances': [RECORD]}
        return method


RECORD = {'uuid': 'u', 'name': 'web', 'state': 'ACTIVE', 'task': None, 'host': 'h1',
          'reason': None, 'attempts': [], 'assignment': None}


@pytest.mark.parametrize('failure,code,line', [
    (None, 0, None),
    (rpc.BusError(rpc.NO_VALID_HOST, 'web: no valid host among 3',
                  {'explanation': {'lines': ['x', 'nearest: h1 cell 0: 2 free pCPUs']}}),
     1, 'kvmfleet: error: NoValidHost: web: no valid host among 3'),
    (rpc.BusError(rpc.INVALID_INPUT, 'extra_specs.hw:cpu_policy: bad'), 2,
     'kvmfleet: error: InvalidInput: extra_specs.hw:cpu_policy: bad'),
    (rpc.BusError(rpc.NOT_FOUND, "instance 'web' not found"), 1, 'NotFound'),
    (messaging.MessagingTimeout('slow'), 3, 'BusUnreachable'),
    (rpc.BrokerUnavailable('message broker 127.0.0.1:1 is not reachable'), 3, 'BusUnreachable'),
])
def test_exit_codes_and_errors_in_one_line(monkeypatch, capsys, failure, code, line):
    api = FakeAPI(failure)
    if isinstance(failure, rpc.BrokerUnavailable):
        monkeypatch.setattr(bus_commands, '_connect', lambda args, conf: (_ for _ in ()).throw(
            failure))
    else:
        monkeypatch.setattr(bus_commands, '_connect', lambda args, conf: api)
    assert cli.main(['boot', 'web', '--flavor', 'c1.pinned']) == code
    err = capsys.readouterr().err.strip().splitlines()
    if line is None:
        assert err == []
    else:
        assert line in err[-1] and len(err[-1].splitlines()) == 1
        request_line = err[-2]          # the request id, just before the error
        assert request_line.startswith('kvmfleet: request id: req-')
        assert context.valid_request_id(request_line.rsplit(' ', 1)[1])


def test_json_format_prints_the_answer(monkeypatch, capsys):
    monkeypatch.setattr(bus_commands, '_connect', lambda args, conf: FakeAPI())
    assert cli.main(['show', 'web', '--format', 'json']) == 0
    assert json.loads(capsys.readouterr().out)['uuid'] == 'u'


@pytest.mark.parametrize('argv', [('show', 'web', '-c', 'nope'), ('list', '-c', 'nope'),
                                  ('show', 'web', '-f', 'nope')])
def test_an_unknown_column_or_format_is_bad_input(monkeypatch, capsys, argv):
    monkeypatch.setattr(bus_commands, '_connect', lambda args, conf: FakeAPI())
    try:
        code = cli.main(list(argv))
    except SystemExit as exc:       # argparse refuses an unknown -f choice itself
        code = exc.code
    assert code == 2
    assert capsys.readouterr().out == ''


def test_wait_shows_progress_until_settled():
    states = iter(['BUILDING', 'BUILDING', 'ACTIVE'])

    class API:
        def show(self, uuid):
            return dict(RECORD, state=next(states))
    out = argparse.Namespace(lines=[])
    out.write = out.lines.append
    [final] = bus_commands.wait_settled(API(), ['u'], interval=0, out=out)
    assert final['state'] == 'ACTIVE'
    text = ''.join(out.lines)
    assert 'web: BUILDING on h1' in text and 'web: ACTIVE on h1' in text


def test_capacity_keeps_the_file_mode_and_adds_the_live_one():
    files = parse('capacity', '--fleet', 'f.json', '--requests', 'r.json')
    live = parse('capacity', '--live', 'pinned', '--flavor', 'c1.pinned')
    assert (files.fleet, live.fleet, live.flavor) == ('f.json', None, 'c1.pinned')


def test_a_bad_upgrade_level_is_a_one_line_configuration_error(monkeypatch, capsys):
    from oslo_config import cfg
    monkeypatch.setattr(rpc, 'broker_reachable', lambda addresses, timeout=None: True)
    cfg.CONF.set_override('transport_url', 'kombu+memory:////')
    cfg.CONF.set_override('scheduler', '1.9', group='upgrade_levels')
    try:
        assert cli.main(['list']) == bus_commands.EXIT_BAD_INPUT
    finally:
        cfg.CONF.clear_override('scheduler', group='upgrade_levels')
        cfg.CONF.clear_override('transport_url')
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and '[upgrade_levels] scheduler' in err[1] and 'newer' in err[1]
    assert err[0].startswith('kvmfleet: request id: req-')
