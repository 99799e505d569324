"""benchmarks/bench_dashboard.py runs at a tiny size and reports what the docs quote.

Not a speed test (no time is asserted): it keeps the script working.
"""

import json

from benchmarks import bench_dashboard


def test_reports_each_page_with_the_command_and_machine(capsys):
    bench_dashboard.main(['--hosts', '12', '--runs', '2', '--page-size', '3', '--json'])
    report = json.loads(capsys.readouterr().out)
    result = report['result']
    assert (result['hosts'], result['page_size']) == (12, 3)
    assert set(result['pages']) == {'fleet_first', 'fleet', 'filtered', 'host', 'offline'}
    assert all(page['runs'] == 2 and page['bytes'] > 0 and page['wall_ms'] >= 0
               for page in result['pages'].values())
    # a page draws its 3 rows; the offline file every host
    pages = result['pages']
    assert pages['offline']['bytes'] > pages['fleet']['bytes'] == pages['fleet_first']['bytes']
    assert 'bench_dashboard.py' in report['command'] and 'cores' in report['machine']
