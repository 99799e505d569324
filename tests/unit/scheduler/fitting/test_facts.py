"""Host facts: derived once per topology value, never stale."""

import dataclasses

from scheduler.fitting.facts import facts_of

from .builders import host


def test_facts_are_derived_once_per_topology_value():
    topology = host().cells(2, cores=2, shared_cores=1).pf('0000:01:00.0', 1, vfs=2).build()
    facts = facts_of(topology)
    assert facts_of(topology) is facts
    assert facts.shared_total == 2
    assert facts.shared_union == topology.cells[0].shared_cpus | topology.cells[1].shared_cpus
    assert facts.vfs_of == {'0000:01:00.0': ('0000:01:00.0.v0', '0000:01:00.0.v1')}
    assert facts.small_total_mb == 2 * 16384


def test_a_changed_topology_gets_fresh_facts():
    topology = host().cells(1, cores=2, shared_cores=1).build()
    old = facts_of(topology)
    grown = dataclasses.replace(topology, cells=(dataclasses.replace(
        topology.cells[0], shared_cpus=frozenset({2, 3, 7})),))
    assert facts_of(grown).shared_total == 3
    assert facts_of(topology) is old
