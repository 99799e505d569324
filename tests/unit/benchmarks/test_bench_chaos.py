"""benchmarks/bench_chaos.py: the plan it runs and the table it prints (the run itself is
tests/functional/test_chaos.py, with the same driver)."""

from benchmarks import bench_chaos
from tests.functional import chaos


def summary(violations):
    return {'operations': 10, 'boots': 7, 'deletes': 3, 'clients': 4, 'hosts': 24,
            'final_states': {'ACTIVE': 4, 'DELETED': 3}, 'retries': 2, 'no_valid_host': 0,
            'unexpected_errors': [], 'violations': violations, 'clients_s': 1.0,
            'duration_s': 2.0, 'startup': {'cluster_start_s': 30.0}, 'teardown_s': 5.0,
            'wall_s': 40.0, 'faults': [{'fault': chaos.SCHEDULER_KILL, 'at_s': 0.5,
                                        'detail': 'scheduler 0 (pid 1) killed and restarted'}]}


def test_the_full_plan_has_the_issues_faults_spread_over_1000_operations():
    plan = bench_chaos.plan_of(bench_chaos.parse_args([]))
    assert (plan.operations, plan.clients) == (1000, 4)
    assert sorted(plan.faults) == sorted([chaos.SCHEDULER_KILL] * 3 + [chaos.BROKER_STOP,
                                                                        chaos.AGENT_KILL])
    points = [at for at, _ in plan.fault_points()]
    assert points == sorted(points) and 0 < points[0] and points[-1] < 1000
    short = bench_chaos.plan_of(bench_chaos.parse_args(['--faults', 'short']))
    assert sorted(short.faults) == sorted(chaos.SHORT_FAULTS)


def test_the_table_says_each_audit_check_and_each_fault():
    clean = bench_chaos.table(summary({'not_terminal': [], 'overcommitted': []}))
    assert 'audit not_terminal' in clean and 'VIOLATIONS' not in clean
    assert 'scheduler 0 (pid 1) killed and restarted' in clean
    broken = bench_chaos.table(summary({'not_terminal': ['u1: ACTIVE with task deleting'],
                                        'overcommitted': []}))
    assert "1 VIOLATIONS: ['u1: ACTIVE with task deleting']" in broken
