"""The warm view loads from a real SQLite store, whatever an older version stored."""

import copy

from scheduler.store import Store
from scheduler.warm_state import WarmState
from tests import busfleet


def test_a_stored_topology_that_breaks_the_consistency_rules_is_left_out(tmp_path, caplog):
    store = Store(f"sqlite:///{tmp_path}/s.sqlite", clock=lambda: 1000.0).create_schema()
    good = busfleet.host('good')
    bad = copy.deepcopy(busfleet.host('bad'))
    bad['cells'][1]['cpus'].append(0)          # written before the rules were checked
    store.upsert_host(good, now=1000.0)
    store.upsert_host(bad, now=1000.0)
    state = WarmState(store, down_time=60, clock=lambda: 1000.0).load()
    assert 'good' in state.fleet and 'bad' not in state.fleet
    assert state.up == {'good': True}
    [line] = [r.getMessage() for r in caplog.records if r.levelname == 'ERROR']
    assert line.startswith('host bad left out of the view until its next good report')
    assert 'host.cells[1].cpus: pCPUs 0 are also in host.cells[0].cpus' in line
