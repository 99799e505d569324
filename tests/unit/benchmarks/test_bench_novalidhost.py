"""benchmarks/bench_novalidhost.py runs at a tiny size and reports what the docs quote.

Not a speed test (no time is asserted): it keeps the script working.
"""

import json

from benchmarks import bench_novalidhost


def test_reports_before_and_after_and_the_same_explanations(capsys):
    code = bench_novalidhost.main(['--sizes', '40', '--runs', '2', '--repeat', '1',
                                   '--fill', '20', '--json'])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert 'bench_novalidhost.py' in report['command'] and report['machine']['cores']
    result, = report['results']
    assert (result['hosts'], result['same_explanations'], result['runs']) == (40, True, 2)
    assert result['decisions_per_run'] == len(bench_novalidhost.IMPOSSIBLE)
    assert result['after']['p50_ms'] > 0 and result['ratio_p50'] > 0


def test_prints_a_table_with_the_machine_and_the_command(capsys):
    assert bench_novalidhost.main(['--sizes', '20', '--runs', '1', '--repeat', '1',
                                   '--fill', '5']) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith('machine: ') and lines[1].startswith('command: ')
    assert lines[-1].startswith('| 20 |') and lines[-1].endswith('| yes |')
