"""benchmarks/bench_liveness.py runs at a tiny size and reports what the docs quote.

Not a speed test (no time is asserted): it keeps the script working.
"""

import json

from benchmarks import bench_liveness


def test_reports_both_checks_with_the_command_and_machine(capsys):
    bench_liveness.main(['--hosts', '200', '--runs', '2', '--json'])
    report = json.loads(capsys.readouterr().out)
    assert (report['hosts'], report['moved_hosts'], report['database']) == (200, 2, 'sqlite')
    assert all(report[check][figure] >= 0 for check in ('quiet', 'one_percent_moved')
               for figure in ('cpu_ms', 'wall_ms'))
    assert 'bench_liveness.py' in report['command'] and 'CPUs' in report['machine']
