"""The bus benchmarks run end to end at a tiny size and report what docs/benchmarks.md quotes.

Not a speed test (no figure is asserted): it keeps the benchmark scripts working.
"""

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT, missing_service, port_open

pytestmark = [pytest.mark.rabbit]

CPU_PARTS = {'scheduler', 'agent', 'broker', 'clients'}


def run_json(script, *args, timeout=300):
    if not port_open(5672):
        missing_service('RabbitMQ is not listening on 127.0.0.1:5672')
    result = subprocess.run([sys.executable, str(REPO_ROOT / 'benchmarks' / script), *args,
                             '--json'], cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.postgres
def test_bench_bus_with_two_schedulers_reports_refits_and_agreeing_views():
    if not port_open(5432):
        missing_service('PostgreSQL is not listening on 127.0.0.1:5432')
    result = run_json('bench_bus.py', '--schedulers', '2', '--hosts', '10', '--boots', '24',
                      '--clients', '2')
    assert (result['schedulers'], result['boot_calls'], result['deletes']) == (2, 24, 8)
    assert result['claims'] == 24 - result['no_valid_host']
    assert result['refit_pct'] == round(100 * result['refits'] / result['claims'], 2)
    assert result['hosts_agree_with_each_other'] and result['shows_agree']
    assert (result['hosts_differing_from_store'], result['worst_pcpus_from_store']) == (0, 0)


def test_bench_bus_floor_reports_medians_and_the_cpu_total():
    result = run_json('bench_bus_floor.py', '--boots', '40', '--clients', '2', '--runs', '2')
    assert len(result['runs_boots_per_s']) == 2 and result['boots_per_s'] > 0
    assert set(result['cpu_ms_per_boot']) == CPU_PARTS
    assert result['cpu_ms_per_boot_total'] == pytest.approx(
        sum(result['cpu_ms_per_boot'].values()), abs=0.05)
    assert 'bench_bus_floor.py' in result['command'] and 'CPUs' in result['machine']


def test_bench_build_casts_reports_the_sender_cpu_per_build_by_batch_size():
    result = run_json('bench_build_casts.py', '--builds', '16', '--runs', '1')
    assert set(result['sender_cpu_ms_per_build']) == {'1', '2', '4', '8'}
    assert all(value > 0 for value in result['sender_cpu_ms_per_build'].values())


@pytest.mark.postgres
def test_bench_bus_compare_reports_the_floor_and_one_and_two_schedulers_in_one_table():
    if not port_open(5432):
        missing_service('PostgreSQL is not listening on 127.0.0.1:5432')
    result = run_json('bench_bus.py', '--compare', '--hosts', '10', '--boots', '40',
                      '--clients', '2', '--idle-seconds', '1', '--settle', '5', timeout=600)
    floor, *runs = result['rows']
    assert floor['boots_per_s'] > 0 and set(floor['cpu_ms_per_boot']) == CPU_PARTS
    assert [(r['schedulers'], r['database']) for r in runs] == [
        (1, 'sqlite'), (1, 'postgresql+psycopg2'), (2, 'postgresql+psycopg2')]
    for run in runs:      # each row is a whole bench_bus run
        assert run['final_states'] == {'ACTIVE': 40} and run['no_valid_host'] == 0
        assert run['instances'] == 40 and run['p99_ms'] >= run['p50_ms'] > 0
        assert all(value > 0 for value in run['cpu_ms_per_boot'].values())
        assert run['notifications'] == 'off' and len(run['load_avg']) == 2
        assert run['floor_ratio'] == pytest.approx(run['boots_per_s'] / floor['boots_per_s'],
                                                   abs=0.01)
        assert set(run['cpu_ms_per_boot']) == CPU_PARTS     # two schedulers: their sum
        assert run['scheduler_ms_per_boot_to_active'] > 0
    assert 'bench_bus.py --compare' in result['command'] and 'CPUs' in result['machine']


def test_bench_memory_samples_the_scheduler_with_its_hosts_reporting():
    result = run_json('bench_memory.py', 'service', '--hosts', '20', '--boots', '4',
                      '--samples', '2', '--report-for', '3', '--dir', '/tmp')
    assert result['hosts'] == 20 and result['boots'] == 4
    for stage in ('loaded', 'reported', 'after_boots'):
        rss = result[stage]['rss_mib']
        assert 0 < rss['median'] <= rss['max'] <= result[stage]['peak_hwm_mib']
    assert 'bench_memory.py' in result['command'] and 'CPUs' in result['machine']
