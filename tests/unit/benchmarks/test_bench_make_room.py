"""benchmarks/bench_make_room.py runs at a tiny size and reports what the docs quote.

Not a speed test (no time is asserted): it keeps the script working, and its fleet
fragmented (big requests that fit nowhere without a move).
"""

import json

from benchmarks import bench_make_room


def test_reports_plans_found_moves_and_planning_time(capsys):
    code = bench_make_room.main(['--hosts', '12', '--requests', '8', '--json'])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert 'bench_make_room.py' in report['command'] and report['machine']['cores']
    result = report['result']
    assert result['requests'] == 8 == result['fit_without_moves'] + result['needing_room']
    assert result['needing_room'] > 0          # the fleet is fragmented
    assert result['plans_found'] == sum(result['moves_per_plan'].values())
    assert all(1 <= int(moves) <= 3 for moves in result['moves_per_plan'])
    assert result['planning_ms_p99'] >= result['planning_ms_p50'] > 0
    assert result['bounds'] == {'max_moves': 3, 'max_hosts': 8}


def test_prints_the_machine_the_command_and_the_figures(capsys):
    assert bench_make_room.main(['--hosts', '6', '--requests', '4', '--max-moves', '1']) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith('machine: ') and lines[1].startswith('command: ')
    assert any(line.startswith('plans found: ') and "'max_moves': 1" in line
               for line in lines)
