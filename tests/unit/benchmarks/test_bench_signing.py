"""benchmarks/bench_signing.py runs at a tiny size and reports what the docs quote.

Not a speed test (no time is asserted): it keeps the script working.
"""

import json

from benchmarks import bench_signing


def test_reports_sign_and_verify_cost_per_message_kind(capsys):
    bench_signing.main(['--messages', '20', '--instances', '2', '--runs', '1', '--json'])
    result = json.loads(capsys.readouterr().out)
    assert set(result['messages']) == {'instance_update', 'report_host', 'build_instance'}
    for row in result['messages'].values():
        assert row['sign_us'] > 0 and row['verify_us'] > 0 and row['bytes'] > 50
    assert result['messages']['report_host']['bytes'] > \
        result['messages']['instance_update']['bytes']
