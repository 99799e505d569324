"""Host reports against topology consistency: a refused report changes nothing, and
reported domains that do not fit or overlap are flagged, never adopted."""

import copy
import logging

import pytest
from oslo_messaging.rpc import dispatcher

from scheduler.store import ACTIVE
from tests import busfleet
from tests.unit.scheduler.test_manager import (  # noqa: F401  (fixtures)
    bus,
    postgres_schema,
    report,
    world,
)
from wire.topology import HostTopology

HOST = 'host-0001'


def _domain(uuid, pinning, page_size_kb=4, memory_mb=256, vfs=()):
    assignment = {'host': HOST, 'instance': uuid, 'vcpus': len(pinning), 'memory_mb': memory_mb,
                  'cells': [{'guest_cell': 0, 'host_cell': 0, 'vcpus': list(range(len(pinning))),
                             'memory_mb': memory_mb, 'page_size_kb': page_size_kb,
                             'pinning': {str(v): p for v, p in enumerate(pinning)}}],
                  'pci_devices': [{'address': a, 'host_cell': 0, 'request': f"port:{i}"}
                                  for i, a in enumerate(vfs)]}
    return {'uuid': uuid, 'name': uuid, 'state': 'running', 'assignment': assignment}


def _send(manager, host_dict):
    """Through the endpoint wrapper, as a cast arrives."""
    manager.report_host(ctxt={}, host=host_dict, instances=[])


def test_a_refused_report_keeps_the_last_good_topology(world, caplog):  # noqa: F811
    good = busfleet.host(HOST)
    report(world, good)
    before = world.store.get_host(HOST)
    view = world.manager.state.fleet.state(HOST).topology
    bad = copy.deepcopy(good)
    bad['cells'][1]['shared_cpus'].append(3)            # dedicated in cell 0 too
    bad['pci_devices'][1]['numa_node'] = 5
    with caplog.at_level(logging.WARNING, logger='wire.rpc'), \
            pytest.raises(dispatcher.ExpectedException):
        _send(world.manager, bad)
    after = world.store.get_host(HOST)
    assert (after.topology, after.generation) == (before.topology, before.generation)
    assert world.manager.state.fleet.state(HOST).topology is view
    [line] = [r.getMessage() for r in caplog.records]
    assert line.startswith('report_host rejected: InvalidInput') and '\n' not in line
    assert 'host.cells[1].shared_cpus: pCPUs 3 are also in host.cells[0].cpus' in line
    assert 'host.pci_devices[1].numa_node: 5 is not a cell of the host' in line
    assert world.client.boot(busfleet.PINNED)['instances'][0]['host'] == HOST


def test_overlapping_domains_are_flagged_not_adopted(world):  # noqa: F811
    report(world, busfleet.host(HOST))
    report(world, busfleet.host(HOST), [
        _domain('first', [0, 1], 2048, 1024, vfs=['0000:81:10.0']),
        _domain('same-pcpu', [1, 2]),
        _domain('same-vf', [4], vfs=['0000:81:10.0']),
        _domain('too-many-pages', [5], 2048, 1536),
        _domain('no-such-pcpu', [99]),
        _domain('shared-pcpu', [8])])
    assert world.store.get_instance('first').state == ACTIVE
    assert {r[3] for r in world.store.held_resources()} == {'first'}
    [view] = world.client.hosts()['hosts']
    flagged = {f['uuid']: f['reason'] for f in view['unknown_domains']}
    prefix = 'cannot adopt: does not fit the host: '
    assert flagged == {
        'same-pcpu': prefix + 'pCPUs 1 are already held by instance first',
        'same-vf': prefix + 'PCI device 0000:81:10.0 (or its PF or VFs) is already held by '
                            'instance first',
        'too-many-pages': prefix + 'host cell 0: 768 pages of 2048 KiB with 512 already '
                                   'held, the pool has 1024',
        'no-such-pcpu': prefix + 'pCPUs 99 are not dedicated pCPUs of host cell 0',
        'shared-pcpu': prefix + 'pCPUs 8 are not dedicated pCPUs of host cell 0'}


def test_every_generated_bus_host_is_consistent():
    for host in busfleet.fleet(3):
        assert HostTopology.from_dict(host).name == host['name']
