"""benchmarks/bench_catch_up.py runs at a tiny size and reports what the docs quote.

Not a speed test (no time is asserted): it keeps the script working.
"""

import json

from benchmarks import bench_catch_up


def test_reports_the_three_cases_with_the_command_and_machine(capsys):
    bench_catch_up.main(['--hosts', '30', '--runs', '3', '--json'])
    report = json.loads(capsys.readouterr().out)
    assert (report['hosts'], report['database']) == (30, 'sqlite')
    assert all(report[case][figure] >= 0 for _, case in bench_catch_up.CASES
               for figure in ('cpu_ms', 'wall_ms'))
    assert 'bench_catch_up.py' in report['command'] and 'CPUs' in report['machine']
