"""The warm view loads from a real SQLite store, whatever an older version stored."""

import copy

from scheduler.store import Store
from scheduler.warm_state import WarmState
from tests import busfleet
from wire.assignment import Assignment


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


def test_catch_up_reloads_only_the_hosts_another_writer_changed(tmp_path):
    store = Store(f"sqlite:///{tmp_path}/s.sqlite", clock=lambda: 1000.0).create_schema()
    for name in ('a', 'b', 'c'):
        store.upsert_host(busfleet.host(name), now=1000.0)
    mine = WarmState(store, down_time=60, clock=lambda: 1000.0).load()
    other = WarmState(store, down_time=60, clock=lambda: 1000.0).load()
    assert mine.catch_up() == []                  # nothing moved: one query, no reload
    first, second = sorted(other.fleet.state('b').topology.cells[0].cpus)[:2]
    pinned = Assignment.from_dict({
        'host': 'b', 'instance': 'vm', 'vcpus': 2, 'memory_mb': 512,
        'cells': [{'guest_cell': 0, 'host_cell': 0, 'vcpus': [0, 1], 'memory_mb': 512,
                   'pinning': {'0': first, '1': second}}]})
    store.create_instance('vm', 'vm', {}, None, 'BUILDING')
    other.applied(pinned, None, store.claim(pinned, other.generations['b']))
    store.set_host_enabled('c', False, 'maintenance')
    mine.up['a'] = False                           # liveness is follow_store's to change
    assert sorted(mine.catch_up()) == ['b', 'c']
    assert mine.fleet.state('b').usage.instances == 1 and mine.generations['b'] == 1
    assert mine.enabled['c'] is False and mine.up['a'] is False
    assert other.catch_up() == ['c']               # its own claim is not reloaded
    assert mine.catch_up() == []
