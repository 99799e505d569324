"""benchmarks/bench_capacity.py runs at a tiny size and reports what the docs quote.

Not a speed test (no time is asserted): it keeps the script working.
"""

import json

from benchmarks import bench_capacity


def test_reports_medians_of_before_and_after_and_the_same_answers(capsys):
    code = bench_capacity.main(['--sizes', '40', '--runs', '2', '--before-runs', '1',
                                '--json'])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert 'bench_capacity.py' in report['command'] and report['machine']['cores']
    result, = report['results']
    assert (result['hosts'], result['same_answers']) == (40, True)
    assert (result['before']['runs'], result['after']['runs']) == (1, 2)
    assert result['after']['cpu_s'] >= 0 and result['ratio_cpu'] > 0
    assert result['fits']['web-1'] == 40      # one anti-affinity member per host


def test_prints_a_table_with_the_machine_and_the_command(capsys):
    assert bench_capacity.main(['--sizes', '20', '--runs', '1', '--before-runs', '1']) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith('machine: ') and lines[1].startswith('command: ')
    assert lines[-1].startswith('| 20 | 11 |') and lines[-1].endswith('| yes |')
