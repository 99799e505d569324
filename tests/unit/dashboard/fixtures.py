"""Scheduler answers for the dashboard's tests, made by the scheduler's own views."""

from scheduler import host_views
from scheduler.engine.fleet import FleetView
from tests import busfleet
from wire.assignment import Assignment, CellAssignment
from wire.topology import HostTopology

HOSTILE = '<script>alert(1)</script>&"'


def hosts_answer(count=3, prefix='host', **shape):
    """The ``hosts`` answer of a busfleet fleet (every host up and enabled)."""
    fleet = FleetView([HostTopology.from_dict(h) for h in busfleet.fleet(count, prefix, **shape)])
    return host_views.fleet_views(fleet)


def pinned_assignment(host='host-0000', instance='uuid-1'):
    """2 vCPUs pinned to 0 and 2 with siblings 1 and 3 held (isolate), emulator on 4."""
    cell = CellAssignment(guest_cell=0, host_cell=0, vcpus=(0, 1), memory_mb=1024,
                          page_size_kb=2048, pinning={0: 0, 1: 2}, shared_cpus=frozenset(),
                          reserved_pcpus=frozenset({1, 3}))
    return Assignment(host=host, instance=instance, vcpus=2, memory_mb=1024, cells=(cell,),
                      emulator_pcpus=frozenset({4}))


def host_detail(name='host-0000', instance_name=HOSTILE):
    """``host_detail`` of a host with sibling pairs holding one pinned instance."""
    raw = busfleet.host(name)
    for cell in raw['cells']:
        cpus = cell['cpus']
        cell['siblings'] = [cpus[i:i + 2] for i in range(0, len(cpus), 2)]
    assignment = pinned_assignment(name).to_dict()
    raw['instances'] = [{'uuid': 'uuid-1', 'name': instance_name, 'assignment': assignment}]
    topology = HostTopology.from_dict(raw)
    [view] = host_views.fleet_views(FleetView([topology]))
    return dict(view, topology=topology.to_dict())


def record(detail=None, name=HOSTILE, state='ACTIVE'):
    """A ``show`` answer for the instance of ``host_detail``."""
    return {'uuid': 'uuid-1', 'name': name, 'state': state, 'task': None,
            'host': 'host-0000', 'reason': None, 'attempts': [], 'created_at': 0,
            'assignment': pinned_assignment().to_dict()}
