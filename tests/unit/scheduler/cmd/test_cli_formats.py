"""Every bus command through cliff: -f table|json|yaml|csv|value, -c, exit codes, request ids.

In process: the real SchedulerManager (SQLite store) behind an RPC server on
the kombu+memory bus, agents recorded instead of cast to.
"""

import csv
import functools
import io
import json

import pytest
import yaml
from oslo_config import cfg

from scheduler.cmd import cli
from scheduler.engine import EngineSettings, build_engine
from scheduler.manager import SchedulerManager
from scheduler.store import Store
from tests import busfleet
from tests.unit.scheduler.test_manager import Clock, RecordingAgents
from wire import context, rpc, scheduler_rpcapi


class SeeingProxy:
    """The manager's endpoints, noting each request id the endpoint's thread runs under."""

    target = SchedulerManager.target
    manager = None

    def __init__(self):
        self.request_ids = []

    def __getattr__(self, name):
        method = getattr(self.manager, name)

        @functools.wraps(method)
        def seen(ctxt, **kwargs):
            self.request_ids.append((ctxt['request_id'], context.current_request_id()))
            return method(ctxt, **kwargs)
        return seen


@pytest.fixture(scope='module')
def scheduler(tmp_path_factory):
    cfg.CONF.set_override('transport_url', 'kombu+memory:////')
    proxy = SeeingProxy()
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('cli')}/s.sqlite",
                  clock=Clock()).create_schema()
    proxy.manager = SchedulerManager(store, build_engine(EngineSettings(seed=1)),
                                     RecordingAgents(), clock=Clock())
    for host in busfleet.fleet(2):
        proxy.manager.report_host.__wrapped__(proxy.manager, {}, host=host, instances=[])
    server = rpc.get_rpc_server(scheduler_rpcapi.TOPIC, 'cli-scheduler', [proxy])
    server.start()
    booted = proxy.manager.boot.__wrapped__(proxy.manager, {}, request=busfleet.PINNED)
    yield proxy, booted['instances'][0]
    server.stop()
    server.wait()
    rpc.reset_transports()
    store.dispose()
    cfg.CONF.clear_override('transport_url')


def kvmfleet(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_in_every_format(scheduler, capsys):
    _, instance = scheduler
    code, out, _ = kvmfleet(capsys, 'list', '-f', 'json')
    assert code == 0
    [row] = json.loads(out)         # a format for scripts gets the whole answer
    assert all(row[key] == instance[key] for key in ('uuid', 'name', 'state', 'host'))
    assert {'uuid', 'name', 'state', 'task', 'host', 'reason', 'assignment', 'attempts',
            'created_at'} <= set(row)
    assert yaml.safe_load(kvmfleet(capsys, 'list', '-f', 'yaml')[1]) == [row]
    code, out, _ = kvmfleet(capsys, 'list', '-f', 'json', '-c', 'uuid', '-c', 'state')
    assert json.loads(out) == [{'uuid': instance['uuid'], 'state': instance['state']}]
    rows = list(csv.DictReader(io.StringIO(kvmfleet(capsys, 'list', '-f', 'csv')[1])))
    assert rows[0]['uuid'] == instance['uuid'] and rows[0]['state'] == 'BUILDING'
    code, out, _ = kvmfleet(capsys, 'list', '-f', 'value', '-c', 'uuid', '-c', 'host')
    assert out.split() == [instance['uuid'], instance['host']]
    code, out, _ = kvmfleet(capsys, 'list')
    header = out.splitlines()[1]
    assert code == 0 and [h.strip() for h in header.strip('|').split('|')] == [
        'uuid', 'name', 'state', 'task', 'host', 'reason']


def test_long_gives_every_field_and_boot_the_assignment(scheduler, capsys):
    _, instance = scheduler
    rows = json.loads(kvmfleet(capsys, 'list', '--long', '-f', 'json')[1])
    assert {'created_at', 'updated_at', 'attempts'} <= set(rows[0])
    code, out, _ = kvmfleet(capsys, 'boot', 'long', '--vcpus', '2', '--memory', '512',
                            '--property', 'hw:cpu_policy=dedicated', '--long', '-f', 'json')
    [row] = json.loads(out)
    assert code == 0 and len(row['assignment']['cells'][0]['pinning']) == 2
    table = kvmfleet(capsys, 'show', row['uuid'], '-c', 'assignment')[1]
    assert f"host {row['host']}  vcpus 2" in table


def test_show_is_the_record_in_json_and_readable_in_a_table(scheduler, capsys):
    _, instance = scheduler
    record = json.loads(kvmfleet(capsys, 'show', instance['uuid'], '-f', 'json')[1])
    assert record['uuid'] == instance['uuid'] and record['assignment'] == instance['assignment']
    code, out, _ = kvmfleet(capsys, 'show', instance['name'], '-f', 'value', '-c', 'state')
    assert (code, out.strip()) == (0, 'BUILDING')
    table = kvmfleet(capsys, 'show', instance['uuid'])[1]
    assert 'guest cell 0 -> host cell' in table and '| Field' in table


def test_hosts_rows_per_host_with_cells(scheduler, capsys):
    proxy, _ = scheduler
    answered = proxy.manager.hosts.__wrapped__(proxy.manager, {})['hosts']
    hosts = json.loads(kvmfleet(capsys, 'hosts', '-f', 'json')[1])
    assert [h['name'] for h in hosts] == ['host-0000', 'host-0001']
    assert {h['status'] for h in hosts} == {'up'}
    assert [h['cells'] for h in hosts] == [h['cells'] for h in answered]
    assert sum(c['pcpus']['used'] for h in hosts for c in h['cells']) >= 2
    code, out, _ = kvmfleet(capsys, 'hosts', '-f', 'csv', '-c', 'name', '-c', 'instances')
    assert code == 0 and out.splitlines()[1:] == [
        f'"{h["name"]}",{h["instances"]}' for h in answered]
    long = json.loads(kvmfleet(capsys, 'hosts', '--long', '-f', 'json')[1])
    assert {'up', 'enabled'} <= set(long[0])
    assert 'cell 0: pcpus' in kvmfleet(capsys, 'hosts')[1]


def test_host_disable_and_enable(scheduler, capsys):
    code, out, _ = kvmfleet(capsys, 'host', 'disable', 'host-0001', '--reason', 'fan',
                            '-f', 'json')
    assert code == 0 and json.loads(out)['status'] == 'up,disabled'
    code, out, _ = kvmfleet(capsys, 'host', 'enable', 'host-0001', '-f', 'value', '-c',
                            'status')
    assert (code, out.strip()) == (0, 'up')


def test_boot_then_stop_answer_rows_and_exit_codes(scheduler, capsys):
    code, out, _ = kvmfleet(capsys, 'boot', 'two', '--vcpus', '1', '--memory', '512',
                            '--count', '2', '-f', 'json')
    rows = json.loads(out)
    assert code == 0 and [r['state'] for r in rows] == ['BUILDING', 'BUILDING']
    code, _, err = kvmfleet(capsys, 'boot', 'huge', '--vcpus', '512', '--memory', '512')
    assert code == 1 and err.splitlines()[-1].startswith('kvmfleet: error: NoValidHost')
    code, _, err = kvmfleet(capsys, 'stop', rows[0]['uuid'])     # still BUILDING
    assert code == 1 and 'Conflict' in err.splitlines()[-1]


def test_reports_keep_their_text_and_give_json(scheduler, capsys):
    code, out, _ = kvmfleet(capsys, 'explain', 'x', '--vcpus', '1', '--memory', '512')
    assert code == 0 and 'host host-' in out
    code, out, _ = kvmfleet(capsys, 'explain', 'x', '--vcpus', '1', '--memory', '512',
                            '-f', 'json')
    assert code == 0 and json.loads(out)['assignments'][0]['vcpus'] == 1
    code, out, _ = kvmfleet(capsys, 'explain', 'x', '--vcpus', '512', '--memory', '512')
    assert code == 1 and 'no valid host' in out.lower()
    code, out, _ = kvmfleet(capsys, 'capacity', '--live', 'c', '--vcpus', '1', '--memory',
                            '512')
    assert code == 0 and out.startswith('c: ') and 'more fit' in out
    code, out, _ = kvmfleet(capsys, 'capacity', '--vcpus', '1', '--memory', '512', '-f',
                            'yaml')
    assert code == 0 and yaml.safe_load(out)['fits'] > 0


def test_make_room_options_of_explain_and_boot(scheduler, capsys):
    code, out, _ = kvmfleet(capsys, 'explain', 'x', '--vcpus', '1', '--memory', '512',
                            '--make-room')
    assert code == 0 and 'make room: no move needed, the request fits' in out
    code, out, _ = kvmfleet(capsys, 'explain', 'x', '--vcpus', '512', '--memory', '512',
                            '--make-room', '-f', 'json')
    answer = json.loads(out)
    assert code == 1 and answer['make_room']['found'] is False
    assert 'live migration' in answer['make_room']['reason']
    code, out, err = kvmfleet(capsys, 'boot', 'roomy', '--vcpus', '1', '--memory', '512',
                              '--make-room', '-f', 'json')
    assert code == 0 and [r['state'] for r in json.loads(out)] == ['BUILDING'], err
    code, _, err = kvmfleet(capsys, 'boot', 'huge', '--vcpus', '512', '--memory', '512',
                            '--make-room')
    assert code == 1 and 'make room: no set of at most 3' in err.splitlines()[-1]


def test_console_log(scheduler, capsys):
    _, instance = scheduler
    code, out, _ = kvmfleet(capsys, 'console-log', instance['uuid'])
    assert code == 0 and out == f"console of {instance['uuid']} on {instance['host']}\n"
    answer = json.loads(kvmfleet(capsys, 'console-log', instance['uuid'], '-f', 'json')[1])
    assert answer['instance'] == instance['uuid']


def test_the_request_id_the_cli_prints_is_the_one_the_scheduler_ran_under(scheduler,
                                                                           capsys):
    proxy, instance = scheduler
    code, _, err = kvmfleet(capsys, '-v', 'show', instance['uuid'])
    printed = err.strip().splitlines()[-1]
    assert code == 0 and printed.startswith('kvmfleet: request id: req-')
    request_id = printed.rsplit(' ', 1)[1]
    assert proxy.request_ids[-1] == (request_id, request_id)
    code, _, err = kvmfleet(capsys, 'show', instance['uuid'])
    assert code == 0 and err == ''                      # not without -v
    assert proxy.request_ids[-1][0] != request_id       # a new id per command


def test_stop_force_and_reboot_hard_reach_the_agents(scheduler, capsys):
    proxy, _ = scheduler
    manager = proxy.manager
    [instance] = manager.boot.__wrapped__(manager, {}, request=dict(busfleet.SHARED,
                                                                     name='power'))['instances']
    manager.instance_update.__wrapped__(manager, {}, instance=instance['uuid'],
                                        host=instance['host'], state='ACTIVE')
    assert kvmfleet(capsys, 'reboot', '--hard', 'power', '-f', 'json')[0] == 0
    manager.instance_update.__wrapped__(manager, {}, instance=instance['uuid'],
                                        host=instance['host'], state='ACTIVE')
    assert kvmfleet(capsys, 'stop', '--force', 'power', '-f', 'json')[0] == 0
    calls = [c for c in manager.agents.calls if c[0] in ('stop', 'reboot')
             and c[2] == instance['uuid']]
    assert [(c[0], c[3]) for c in calls] == [('reboot', 'hard'), ('stop', 'force')]
    with pytest.raises(SystemExit) as unknown:       # argparse: only stop has --force
        kvmfleet(capsys, 'start', '--force', 'power')
    assert unknown.value.code == 2
    assert 'unrecognized arguments: --force' in capsys.readouterr().err


def test_hosts_as_html_is_the_dashboards_fleet_picture(scheduler, capsys):
    code, out, _ = kvmfleet(capsys, 'hosts', '-f', 'html')
    assert code == 0 and out.startswith('<!DOCTYPE html>')
    assert out.count('<tr class="host up"') == 2 and '<style>' in out
    hosts = json.loads(kvmfleet(capsys, 'hosts', '-f', 'json')[1])
    for host in hosts:              # each cell block reads the scheduler's numbers
        for cell in host['cells']:
            pcpus = cell['pcpus']
            assert f"cell {cell['id']}  pCPU {pcpus['free']}/{pcpus['total']} free" in out
    assert any(c['pcpus']['used'] for h in hosts for c in h['cells'])   # the booted guest


def test_hosts_of_a_fleet_file_need_no_scheduler(capsys, tmp_path):
    fleet = tmp_path / 'fleet.json'
    hosts = busfleet.fleet(2)
    hosts[1]['enabled'] = False
    fleet.write_text(json.dumps({'version': 1, 'hosts': hosts}))
    code, out, _ = kvmfleet(capsys, 'hosts', '--fleet', str(fleet), '-f', 'html')
    assert code == 0 and '<tr class="host disabled" data-host="host-0001">' in out
    code, out, _ = kvmfleet(capsys, 'hosts', '--fleet', str(fleet), '-f', 'json')
    assert [h['status'] for h in json.loads(out)] == ['up', 'up,disabled']
    code, _, err = kvmfleet(capsys, 'hosts', '--fleet', str(tmp_path / 'missing.json'))
    assert code == 2 and 'missing.json' in err
