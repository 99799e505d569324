"""benchmarks/bench_load_fleet.py runs at a tiny size and reports what the docs quote.

Not a speed test (no time is asserted): it keeps the script working.
"""

import json

from benchmarks import bench_load_fleet


def test_reports_each_step_with_the_command_and_machine(capsys, tmp_path):
    bench_load_fleet.main(['--sizes', '30', '--runs', '2', '--dir', str(tmp_path), '--json'])
    report = json.loads(capsys.readouterr().out)
    row, = report['results']
    assert (row['hosts'], row['runs']) == (30, 2)
    assert all(row[step] >= 0 for step in ('decode', 'parse', 'fleetview'))
    assert 'bench_load_fleet.py' in report['command'] and 'CPUs' in report['machine']
