"""fitting.audit: each pool held beyond capacity gives one line; a fitting host none."""

import dataclasses

import pytest

from scheduler.fitting import audit
from scheduler.fitting.policy import FitPolicy
from tests.unit.scheduler.fitting.builders import host
from wire.assignment import Assignment, CellAssignment, PciAssignment
from wire.topology import Instance

# 1 cell: dedicated 0-3, shared 4-5, 16 GiB with 8 x 1 GiB pages, one PF with two VFs.
HOST = (host('h').cells(1, cores=4, shared_cores=2).pages({1048576: 8})
        .pf('0000:81:00.0', numa_node=0, vfs=2).build())
VF0, VF1 = sorted(d.address for d in HOST.pci_devices if d.type == 'type-VF')
PF = '0000:81:00.0'


def held(instance, pinning=None, memory_mb=1024, page_kb=4, floating=0, pcis=(), sev=False,
         numa=True):
    pinning = pinning or {}
    vcpus = len(pinning) + floating
    cells = (CellAssignment(guest_cell=0, host_cell=0, vcpus=tuple(range(vcpus)),
                            memory_mb=memory_mb, page_size_kb=page_kb, pinning=pinning,
                            shared_cpus=frozenset({4, 5}) if floating else frozenset()),)
    return Assignment(host='h', instance=instance, vcpus=vcpus, memory_mb=memory_mb,
                      cells=cells if numa else (),
                      shared_cpus=frozenset({4, 5}) if floating else frozenset(),
                      pci_devices=tuple(PciAssignment(a, 0, f"port:{i}")
                                        for i, a in enumerate(pcis)), sev=sev)


CASES = [
    ('fits', [held('a', {0: 0, 1: 1}), held('b', memory_mb=8192, page_kb=1048576)], []),
    ('pcpu twice', [held('a', {0: 0}), held('b', {0: 0})], ['pCPU 0 held by 2 instances']),
    ('foreign pcpu', [held('a', {0: 9})],
     ['pinned pCPUs [9] are not dedicated pCPUs of the host']),
    ('pages', [held('a', memory_mb=6144, page_kb=1048576),
               held('b', memory_mb=3072, page_kb=1048576)],
     ['cell 0: 9 pages of 1048576 KiB held, pool has 8']),
    ('small pages', [held('a', memory_mb=8192), held('b', memory_mb=1)],
     ['cell 0: 8193 MiB of small pages held, room for 8192',
      'host: 8193 MiB of small pages held, room for 8192']),
    ('floating vcpus', [held('a', floating=5), held('b', floating=4)],
     ['cell 0: 9 floating vCPUs, room for 8', 'host: 9 floating vCPUs, room for 8']),
    ('vf twice', [held('a', pcis=[VF0]), held('b', pcis=[VF0])],
     [f"PCI device {VF0} held by 2 instances"]),
    ('pf and vf', [held('a', pcis=[PF]), held('b', pcis=[VF1])],
     [f"VF {VF1} and its PF {PF} are both held"]),
    ('sev', [held('a', sev=True)], ['host: 1 SEV guests, 0 slots']),
]


@pytest.mark.parametrize('assignments,expected', [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_overruns(assignments, expected):
    assert audit.overruns(HOST, FitPolicy(cpu_allocation_ratio=4.0), assignments) == expected


def test_ratios_come_from_the_policy():
    assignments = [held('a', floating=9)]
    assert audit.overruns(HOST, FitPolicy(cpu_allocation_ratio=4.5), assignments) == []


def test_defaults_to_the_hosts_own_instances():
    instance = Instance(uuid='a', name='a', assignment=held('a', {0: 0}))
    over = dataclasses.replace(HOST, instances=(instance, instance))
    assert audit.overruns(over, FitPolicy()) == ['pCPU 0 held by 2 instances']
