"""The real ``kvmfleet`` CLI on the shipped samples: simulate and capacity."""

import json
import pathlib
import subprocess
import sys

import pytest

from scheduler.cmd import cli

TOP = pathlib.Path(__file__).resolve().parents[4]
FLEET = str(TOP / 'samples' / 'fleet.json')
REQUESTS = str(TOP / 'samples' / 'requests.json')
KVMFLEET = str(pathlib.Path(sys.executable).with_name('kvmfleet'))


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope='module')
def simulated():
    """The console script itself, as an operator runs it (JSON output)."""
    result = subprocess.run([KVMFLEET, 'simulate', '--fleet', FLEET, '--requests', REQUESTS,
                             '--format', 'json'], capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def _by_name(simulated):
    return {r['request']: r for r in simulated['requests']}


def test_summary(simulated):
    summary = simulated['summary']
    assert (summary['placed'], summary['failed'], summary['first_failure_index']) == (10, 2, 8)
    assert 0 < summary['decision_p50_ms'] <= summary['decision_p99_ms']


def test_full_assignment_of_a_pinned_sriov_guest(simulated):
    vnf = _by_name(simulated)['vnf-sriov']
    assignment = vnf['assignment']
    assert vnf['host'] == assignment['host'] == 'compute-01'
    cell, = assignment['cells']
    assert cell['host_cell'] == 0 and cell['memory_mb'] == 8192
    assert cell['page_size_kb'] == 1048576
    assert sorted(cell['pinning']) == ['0', '1', '2', '3']
    assert cell['shared_cpus'] == [1, 2, 3, 33, 34, 35]
    assert len(assignment['emulator_pcpus']) == 1
    assert not set(assignment['emulator_pcpus']) & set(cell['pinning'].values())
    addresses = [d['address'] for d in assignment['pci_devices']]
    assert len(addresses) == 2 and all(a.startswith('0000:3b:02.') for a in addresses)


@pytest.mark.parametrize('name, host', [
    ('confidential', 'compute-03-sev'),
    ('uefi-secure', 'compute-04-uefi'),
    ('avx512-nvme', 'compute-01'),
])
def test_capability_requests_land_on_capable_hosts(simulated, name, host):
    assert _by_name(simulated)[name]['host'] == host


def test_anti_affinity_avoids_the_host_running_a_member(simulated):
    assert _by_name(simulated)['web-1']['host'] != 'compute-02'


def test_multi_instance_request_and_no_pcpu_or_vf_used_twice(simulated):
    batch = _by_name(simulated)['batch']
    assert len(batch['instances']) == 3
    fleet = json.loads(pathlib.Path(FLEET).read_text())
    held = {h['name']: [i['assignment'] for i in h.get('instances', [])]
            for h in fleet['hosts']}
    for outcome in simulated['requests']:
        for entry in outcome['instances']:
            held[entry['host']].append(entry['assignment'])
    for host, assignments in held.items():
        pins = [p for a in assignments for c in a['cells'] for p in c['pinning'].values()]
        pins += [p for a in assignments for p in a['emulator_pcpus']
                 if p not in a['shared_cpus']]
        vfs = [d['address'] for a in assignments for d in a['pci_devices']]
        assert len(pins) == len(set(pins)), host
        assert len(vfs) == len(set(vfs)), host
    assert 'compute-05-maint' not in {o['host'] for o in simulated['requests']}


def test_failure_has_reasons_and_per_cell_nearest_misses(simulated):
    failed = _by_name(simulated)['huge-memory-db']
    assert failed['host'] is None and failed['assignment'] is None
    assert failed['reasons']['NUMA_CELL_NO_FREE_PAGES'] == 4
    assert failed['reasons']['HOST_DISABLED'] == 1
    nearest = [m['text'] for m in failed['explanation']['nearest']]
    assert 'compute-01 cell 1: 16 free 1G pages, needs 64' in nearest


def test_invalid_request_is_reported_and_the_stream_goes_on(simulated):
    broken = _by_name(simulated)['broken-numa']
    assert broken['host'] is None and broken['decision_ms'] is None
    fields = {e['field'] for e in broken['errors']}
    assert {'extra_specs.hw:numa_cpus.1', 'extra_specs.hw:cpu_thread_policy'} <= fields
    assert _by_name(simulated)['rt-smt']['host'] is not None


def test_table_is_aligned_and_explains(capsys):
    code, out, _ = run(capsys, 'simulate', '--fleet', FLEET, '--requests', REQUESTS,
                       '--explain')
    assert code == 0
    lines = out.splitlines()
    header = lines[0]
    host_column = header.index('HOST')
    rows = [line for line in lines[1:13] if line.strip()]
    assert all(row[host_column - 2:host_column] == '  ' for row in rows)
    assert any(row[host_column:].startswith('compute-01 ') for row in rows)
    assert 'placed 10, failed 2 (first failure: request 8)' in out
    assert 'nearest miss: compute-01 cell 1: 16 free 1G pages, needs 64' in out
    assert "invalid: extra_specs.hw:numa_cpus.1: hw:numa_cpus.1 is missing" in out


def test_capacity_json(capsys):
    code, out, _ = run(capsys, 'capacity', '--fleet', FLEET, '--requests', REQUESTS,
                       '--format', 'json')
    assert code == 0
    data = json.loads(out)
    shapes = {s['request']: s for s in data['shapes']}
    assert shapes['huge-memory-db']['fits'] == 0
    assert shapes['huge-memory-db']['runs_out'] == 'NUMA_CELL_NO_FREE_PAGES'
    assert shapes['confidential']['fits'] == 15          # the SEV slots of compute-03
    assert shapes['confidential']['runs_out'] == 'SEV_NO_SLOTS'
    assert shapes['small-floating']['fits'] > 100
    assert [i['request'] for i in data['invalid']] == ['broken-numa']


def test_capacity_table(capsys):
    code, out, _ = run(capsys, 'capacity', '--fleet', FLEET, '--requests', REQUESTS)
    assert code == 0 and out.splitlines()[0].split() == [
        'REQUEST', 'VCPUS', 'MEMORY_MB', 'MORE_FIT', 'RUNS_OUT_FIRST', 'EXAMPLE']
    assert 'invalid request 9 (broken-numa)' in out


@pytest.mark.parametrize('content, words', [
    ('{"version": 1, "hosts": [', 'line 1 column'),
    ('{"version": 2, "hosts": []}', 'version: 2 is not supported'),
    ('{"version": 1, "hosts": [{"name": "h"}]}', 'hosts[0].cells: is required'),
    ('{"version": 1, "hosts": [{"name": "h", "cells": [{"id": 0}]}]}',
     'hosts[0].cells[0].memory_mb: is required'),
])
def test_malformed_fleet_file_is_one_clear_line(capsys, tmp_path, content, words):
    path = tmp_path / 'fleet.json'
    path.write_text(content)
    code, out, err = run(capsys, 'simulate', '--fleet', str(path), '--requests', REQUESTS)
    assert code == 2 and out == ''
    assert len(err.strip().splitlines()) == 1
    assert str(path) in err and words in err


def test_malformed_request_file(capsys, tmp_path):
    path = tmp_path / 'requests.json'
    path.write_text('{"version": 1, "requests": [1]}')
    code, _, err = run(capsys, 'capacity', '--fleet', FLEET, '--requests', str(path))
    assert code == 2 and 'requests[0]: expected an object' in err


def test_flavors_file_and_config_file(capsys, tmp_path):
    requests = tmp_path / 'requests.json'
    requests.write_text(json.dumps({'version': 1, 'requests': [
        {'name': 'a', 'flavor': 'c1.pinned'}, {'name': 'b', 'flavor': 'c1.pinned'}]}))
    config = tmp_path / 'kvmfleet.conf'
    config.write_text('[filter_scheduler]\nenabled_filters = enabled,numa\n'
                      'ram_weight_multiplier = -10.0\n')
    code, out, _ = run(capsys, '--config-file', str(config), 'simulate', '--fleet', FLEET,
                       '--requests', str(requests), '--flavors',
                       str(TOP / 'etc' / 'kvmfleet' / 'flavors.yaml'), '--format', 'json')
    assert code == 0
    hosts = [r['host'] for r in json.loads(out)['requests']]
    assert hosts[0] is not None and hosts[0] == hosts[1]       # packing


def test_missing_config_file_is_exit_2(capsys, tmp_path):
    code, _, err = run(capsys, '--config-file', str(tmp_path / 'nope.conf'), 'simulate',
                       '--fleet', FLEET, '--requests', REQUESTS)
    assert code == 2 and 'configuration' in err


def test_subcommands_are_registered_by_their_modules():
    names = {name for name, _ in cli.build_command_manager()}
    assert {'simulate', 'capacity', 'boot', 'host enable', 'host disable'} <= names


def test_version_and_a_missing_command(capsys):
    with pytest.raises(SystemExit) as version:
        cli.main(['--version'])
    assert version.value.code == 0
    assert capsys.readouterr().out.strip().startswith('kvmfleet ')
    with pytest.raises(SystemExit) as missing:
        cli.main([])
    assert missing.value.code == 2 and 'a command is required' in capsys.readouterr().err


@pytest.mark.parametrize('formatter, check', [
    ('json', lambda out: json.loads(out)['summary']['placed'] == 10),
    ('yaml', lambda out: 'placed: 10' in out),
])
def test_reports_give_data_with_f(capsys, formatter, check):
    code, out, _ = run(capsys, 'simulate', '--fleet', FLEET, '--requests', REQUESTS,
                       '-f', formatter)
    assert code == 0 and check(out)


def test_yaml_request_file(capsys, tmp_path):
    path = tmp_path / 'requests.yaml'
    path.write_text('version: 1\nrequests:\n  - {name: tiny, vcpus: 1, memory_mb: 512}\n')
    code, out, _ = run(capsys, 'simulate', '--fleet', FLEET, '--requests', str(path),
                       '--format', 'json')
    assert code == 0 and json.loads(out)['summary']['placed'] == 1


def register_greetings(subparsers):
    """An argparse-style command group, as modules written before cliff have."""
    hello = subparsers.add_parser('hello-there', help='say hello')
    hello.add_argument('who')
    hello.add_argument('--code', type=int, default=0)
    hello.set_defaults(handler=lambda args, conf: print(f"hello {args.who}") or args.code)


def test_an_argparse_style_group_runs_under_cliff(monkeypatch, capsys):
    module = type(sys)('greetings')
    module.register = register_greetings
    monkeypatch.setitem(sys.modules, 'greetings', module)
    monkeypatch.setattr(cli, 'COMMAND_MODULES', cli.COMMAND_MODULES + ('greetings',))
    code, out, _ = run(capsys, 'hello-there', 'world', '--code', '4')
    assert (code, out) == (4, 'hello world\n')
    code, out, _ = run(capsys, 'help')
    assert code == 0 and 'say hello' in out


def test_simulate_as_html_draws_the_fleet_after_the_requests(capsys):
    code, out, _ = run(capsys, 'simulate', '--fleet', FLEET, '--requests', REQUESTS, '-f', 'html')
    assert code == 0 and out.startswith('<!DOCTYPE html>')
    assert 'placed 10, failed 2' in out and '<h2>Fleet after the requests</h2>' in out
    # compute-01 took vnf-sriov's 4 pinned pCPUs (and more) on cell 0: not all free any more
    row = out[out.index('data-host="compute-01"'):]
    row = row[:row.index('</tr>')]
    assert 'data-cell="0" data-free="1.00"' not in row
    code, out, _ = run(capsys, 'hosts', '--fleet', FLEET, '-f', 'html')
    assert code == 0 and 'data-cell="0" data-free="1.00"' in \
        out[out.index('data-host="compute-01"'):]
