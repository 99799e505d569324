"""benchmarks/bench_service_work.py runs at a tiny size and reports what the docs quote.

Not a speed test (no time is asserted): it keeps the script working.
"""

import json

from benchmarks import bench_service_work


def test_reports_cpu_per_boot_build_and_report(capsys):
    bench_service_work.main(['--hosts', '20', '--boots', '30', '--builds', '8', '--runs', '1',
                             '--json'])
    result = json.loads(capsys.readouterr().out)
    for key in ('scheduler_boot_ms', 'agent_build_ms', 'host_report_ms'):
        assert result[key] > 0, key
    assert result['held'] >= 1 and (result['hosts'], result['runs']) == (20, 1)
    assert 'bench_service_work.py' in result['command'] and 'CPUs' in result['machine']


def test_storm_reports_boot_latency_during_a_report_storm(capsys):
    bench_service_work.main(['--storm', '--hosts', '12', '--boots', '10', '--runs', '1',
                             '--reporters', '4', '--storm-hosts', '8', '--storm-interval',
                             '0.05', '--json'])
    result = json.loads(capsys.readouterr().out)
    assert 0 < result['boot_median_ms'] <= result['boot_p99_ms'] <= result['boot_max_ms']
    assert result['reports_per_s'] > 0 and result['reporters'] == 4
    assert '--storm' in result['command'] and 'CPUs' in result['machine']
