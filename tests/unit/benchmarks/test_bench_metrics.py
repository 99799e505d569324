"""benchmarks/bench_metrics.py runs at a tiny size and reports what the docs quote.

Not a speed test (no time is asserted): it keeps the script working.
"""

import json

from benchmarks import bench_metrics


def test_reports_both_scrapes_with_sizes_ratios_command_and_machine(capsys):
    bench_metrics.main(['--hosts', '30', '--runs', '2', '--json'])
    report = json.loads(capsys.readouterr().out)
    totals, per_host = report['totals_only'], report['per_host']
    assert report['hosts'] == 30
    # 2 cells x (pCPUs, free pCPUs, 2M pages, free 2M pages) + free VFs per host
    assert per_host['series'] - totals['series'] == 30 * 9
    assert per_host['payload_bytes'] > totals['payload_bytes'] > 0
    assert report['ratios']['series'] > 1
    assert all(row[key] >= 0 for row in (totals, per_host)
               for key in ('scrape_ms', 'scrape_cpu_ms', 'snapshot_ms'))
    assert 'bench_metrics.py' in report['command'] and 'CPUs' in report['machine']
