"""benchmarks/bench_moves.py runs at a tiny size and reports what the docs quote.

Not a speed test (no time is asserted): it keeps the script working.
"""

import json

from benchmarks import bench_moves


def test_reports_decisions_and_the_cost_of_a_migration_in_a_drain(capsys):
    bench_moves.main(['--hosts', '6', '--guests', '3', '--drains', '2', '--samples', '10',
                      '--json'])
    result = json.loads(capsys.readouterr().out)
    assert result['destination_decision_ms'] > 0 and result['boot_decision_ms'] > 0
    assert result['moved'] >= 2 and result['not_moved'] == 0 and result['overruns'] == []
    assert result['migration_cpu_ms'] > 0 and result['boot_cpu_ms'] > 0
    assert 'bench_moves.py' in result['command'] and 'CPUs' in result['machine']
