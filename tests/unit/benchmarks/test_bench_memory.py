"""benchmarks/bench_memory.py runs at a tiny size and reports what the docs quote.

Not a memory or speed test (no figure is asserted): it keeps the script working.
"""

import json

from benchmarks import bench_memory


def run(capsys, *args):
    assert bench_memory.main([*args, '--json']) == 0
    report = json.loads(capsys.readouterr().out)
    assert 'bench_memory.py' in report['command'] and 'CPUs' in report['machine']
    return report


def test_simulate_reports_the_peak_of_each_run_and_the_decision_times(capsys, tmp_path):
    report = run(capsys, 'simulate', '--hosts', '30', '--decisions', '8', '--runs', '2',
                 '--dir', str(tmp_path))
    assert (report['hosts'], report['decisions'], report['runs']) == (30, 8, 2)
    peak = report['peak_rss_mib']
    assert len(peak['runs']) == 2 and 0 < peak['median'] <= peak['max']
    assert report['decision_p99_ms'] >= report['decision_p50_ms'] > 0
    assert 'simulate --fleet' in report['simulate_command']


def test_decisions_reports_each_size_against_the_first(capsys, tmp_path):
    report = run(capsys, 'decisions', '--sizes', '20', '40', '--decisions', '10', '--runs', '2',
                 '--dir', str(tmp_path))
    first, second = report['sizes']
    assert (first['hosts'], second['hosts']) == (20, 40)
    assert first['p50_ratio'] == 1.0 and second['p50_ratio'] > 0
    assert all(len(size['per_run_p50_ms']) == 2 and size['p99_ms'] >= size['p50_ms'] > 0
               for size in report['sizes'])
