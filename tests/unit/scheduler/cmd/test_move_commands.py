"""The move commands (scheduler/cmd/move_commands.py) against a recording scheduler."""

import json

import pytest

from scheduler.cmd import bus_commands, cli, move_commands

UUID = '6f1c3b52-93a4-4d5e-8c1a-0b2d3e4f5a61'
MIGRATION = {'uuid': 'm1', 'instance_uuid': UUID, 'kind': 'live', 'status': 'claimed',
             'source_host': 'h1', 'dest_host': 'h2', 'reason': None,
             'source_assignment': {}, 'dest_assignment': {}, 'request_id': None,
             'created_at': 1.0, 'updated_at': 1.0, 'finished_at': None}
DRAIN = {'host': 'h1', 'total': 3, 'started_at': 1.0, 'pending': [], 'in_flight': {},
         'moved': {'a': 'h2', 'b': 'h3'}, 'failed': {'c': 'NoValidHost: full'},
         'finished_at': 2.0, 'done': True}


class MovesAPI:
    """Answers like the scheduler; a migration is done at the second look."""

    def __init__(self):
        self.calls = []
        self.looks = 0

    def migrate(self, instance, live=False, host=None):
        self.calls.append(('migrate', instance, live, host))
        return dict(MIGRATION, kind='live' if live else 'cold')

    def migrations(self, instance=None, host=None, active=False):
        self.calls.append(('migrations', instance, host, active))
        self.looks += 1
        return {'migrations': [dict(MIGRATION, status='done' if self.looks > 1 else
                                    'migrating')]}

    def host_drain(self, host, live=True, concurrency=None):
        self.calls.append(('host_drain', host, live, concurrency))
        return dict(DRAIN, done=False, finished_at=None, moved={}, failed={},
                    pending=['a', 'b', 'c'])

    def drain_status(self, host):
        return DRAIN

    def resize(self, instance, request):
        self.calls.append(('resize', instance, request))
        return dict(MIGRATION, kind='resize')

    def resize_confirm(self, instance):
        self.calls.append(('resize_confirm', instance))
        return dict(MIGRATION, kind='resize', status='done')

    def resize_revert(self, instance):
        self.calls.append(('resize_revert', instance))
        return dict(MIGRATION, kind='resize', status='reverted')

    def show(self, instance):
        return {'uuid': instance, 'name': 'web', 'state': 'RESIZED', 'task': None,
                'host': 'h2'}

    def evacuate(self, host):
        self.calls.append(('evacuate', host))
        return {'host': host, 'migrations': [dict(MIGRATION, kind='evacuation',
                                                  status='done')]}


@pytest.fixture
def api(monkeypatch):
    api = MovesAPI()
    monkeypatch.setattr(bus_commands, '_connect', lambda args, conf: api)
    monkeypatch.setattr(move_commands.time, 'sleep', lambda seconds: None)
    return api


def test_migrate_waits_until_done_and_gives_every_field_in_json(api, capsys):
    assert cli.main(['migrate', 'web', '--live', '--host', 'h2', '--wait', '-f', 'json']) == 0
    captured = capsys.readouterr()
    answer = json.loads(captured.out)
    assert answer['status'] == 'done' and set(MIGRATION) <= set(answer)
    assert api.calls[0] == ('migrate', 'web', True, 'h2')
    assert 'migrating' in captured.err and 'done' in captured.err


def test_a_failed_migration_exits_1(api, monkeypatch, capsys):
    monkeypatch.setattr(api, 'migrate', lambda *a, **k: dict(MIGRATION, status='failed',
                                                             reason='NoValidHost: x'))
    assert cli.main(['migrate', 'web']) == 1
    assert 'NoValidHost: x' in capsys.readouterr().out


def test_drain_shows_progress_and_a_summary_of_what_could_not_move(api, capsys):
    assert cli.main(['host', 'drain', 'h1', '--wait', '--concurrency', '2',
                     '-f', 'value']) == 1
    captured = capsys.readouterr()
    assert api.calls[0] == ('host_drain', 'h1', True, 2)
    assert captured.out.splitlines() == ['a moved to h2', 'b moved to h3',
                                         'c not moved NoValidHost: full']
    assert '2/3 moved, 0 moving, 1 not moved' in captured.err


def test_drain_in_json_is_the_whole_progress(api, capsys):
    assert cli.main(['host', 'drain', 'h1', '--cold', '--wait', '-f', 'json']) == 1
    assert json.loads(capsys.readouterr().out) == [DRAIN]
    assert api.calls[0][2] is False


def test_migrations_and_evacuate_list_records(api, capsys):
    assert cli.main(['migrations', '--host', 'h1', '--active', '-f', 'json']) == 0
    assert json.loads(capsys.readouterr().out)[0]['uuid'] == 'm1'
    assert api.calls[-1] == ('migrations', None, 'h1', True)
    assert cli.main(['evacuate', 'h1', '-f', 'value', '-c', 'kind', '-c', 'status']) == 0
    assert capsys.readouterr().out.split() == ['evacuation', 'done']


def test_resize_sends_the_new_size_and_waits_until_resized(api, monkeypatch, capsys):
    looks = iter(['migrating', 'finished'])
    monkeypatch.setattr(api, 'migrations', lambda **k: {'migrations': [
        dict(MIGRATION, kind='resize', status=next(looks))]})
    assert cli.main(['resize', 'web', '--vcpus', '4', '--memory', '2048', '--property',
                     'hw:cpu_policy=dedicated', '--wait', '-f', 'json']) == 0
    assert api.calls[0] == ('resize', 'web', {'vcpus': 4, 'memory_mb': 2048, 'extra_specs':
                                              {'hw:cpu_policy': 'dedicated'}})
    captured = capsys.readouterr()
    assert json.loads(captured.out)['status'] == 'finished' and 'RESIZED' in captured.err


def test_resize_needs_a_size(api, capsys):
    assert cli.main(['resize', 'web']) == 2
    assert 'give --flavor' in capsys.readouterr().err and api.calls == []


@pytest.mark.parametrize('command, status', [('resize-confirm', 'done'),
                                             ('resize-revert', 'reverted')])
def test_confirm_and_revert_answer_the_migration_record(api, capsys, command, status):
    assert cli.main([command, 'web', '-f', 'json']) == 0
    assert json.loads(capsys.readouterr().out)['status'] == status
    assert api.calls == [(command.replace('-', '_'), 'web')]
