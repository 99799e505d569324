"""benchmarks/bench_dashboard.py runs at a tiny size and reports what the docs quote.

Not a speed test (no time is asserted): it keeps the script working.
"""

import json

from benchmarks import bench_dashboard


def test_reports_each_page_with_the_command_and_machine(capsys):
    bench_dashboard.main(['--hosts', '40', '--runs', '2', '--page-size', '10', '--json'])
    report = json.loads(capsys.readouterr().out)
    result = report['result']
    assert (result['hosts'], result['page_size']) == (40, 10)
    assert set(result['pages']) == {'fleet_first', 'fleet', 'filtered', 'host', 'offline'}
    assert all(page['runs'] == 2 and page['bytes'] > 0 and page['wall_ms'] >= 0
               for page in result['pages'].values())
    # a page draws its 10 rows; the offline file every host
    assert result['pages']['offline']['bytes'] > 2 * result['pages']['fleet']['bytes']
    assert 'bench_dashboard.py' in report['command'] and 'cores' in report['machine']
