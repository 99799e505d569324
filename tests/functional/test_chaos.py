"""The chaos suite, short: 150 mixed boots and deletes from 4 clients while a scheduler
and the agent are SIGKILLed and a broker node is stopped; afterwards every request is
terminal and the store, the pools and the hosts' domains agree.

Two real schedulers on one PostgreSQL schema, a real 3-node RabbitMQ cluster with
quorum queues, the real agent process serving simulated hosts
(tests/functional/chaos.py).  The full run, 1,000 operations with three scheduler
kills: ``benchmarks/bench_chaos.py``.
"""

import os

import pytest

from tests.conftest import missing_service, postgres_schema
from tests.functional import chaos
from tests.functional.rabbit_cluster import RABBITMQ_SERVER

pytestmark = [pytest.mark.rabbit, pytest.mark.postgres]

PLAN = chaos.Plan(operations=150, clients=4, hosts=8, faults=chaos.SHORT_FAULTS,
                  deadline_s=120, settle_s=60)


def test_mixed_boots_and_deletes_under_faults_end_terminal_and_consistent(postgres_url,
                                                                          tmp_path):
    if not os.access(RABBITMQ_SERVER, os.X_OK):
        missing_service(f"{RABBITMQ_SERVER} not installed (tools/setup-host.sh)")
    with postgres_schema(postgres_url, 'chaos') as url, \
            chaos.chaos_run(PLAN, url, tmp_path) as run:
        summary = run.run()
    assert summary['operations'] == PLAN.operations, summary
    assert [f['fault'] for f in summary['faults']] == list(PLAN.faults)
    assert summary['unexpected_errors'] == []
    assert summary['violations'] == {'not_terminal': [], 'overcommitted': [],
                                     'claims_mismatch': [], 'domains_mismatch': []}
    states = summary['final_states']
    assert set(states) <= {'ACTIVE', 'ERROR', 'DELETED'}
    assert sum(states.values()) == summary['boots']      # one instance per boot, retried or not
    assert states.get('DELETED', 0) == summary['deletes']
    assert states.get('ACTIVE', 0) == summary['active'] > 0
