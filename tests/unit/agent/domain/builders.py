"""Small builders for specs, assignments and settings in the agent's domain tests."""

from agent.domain import DomainSettings
from wire.assignment import Assignment, CellAssignment, PciAssignment
from wire.request_spec import GuestCell, RequestSpec

UUID = '0b6f1a52-3c7d-4e8f-9a01-23456789abcd'
KERNEL_IMAGE = {'name': 'tiny', 'kernel': '/var/lib/kvmfleet/images/t/vmlinuz',
                'initrd': '/var/lib/kvmfleet/images/t/initrd.img', 'cmdline': 'console=ttyS0'}
DISK_IMAGE = {'name': 'disk', 'disk': '/var/lib/kvmfleet/images/base.qcow2',
              'disk_format': 'qcow2'}


def settings(**overrides):
    values = {'instance_dir': f"/var/lib/kvmfleet/instances/{UUID}",
              'console_log': f"/var/lib/kvmfleet/instances/{UUID}/console.log",
              'virt_type': 'kvm'}
    values.update(overrides)
    return DomainSettings(**values)


def cell(guest, host, vcpus, memory_mb, page_kb=4, pinning=None, shared=(), reserved=()):
    return CellAssignment(guest_cell=guest, host_cell=host, vcpus=tuple(vcpus),
                          memory_mb=memory_mb, page_size_kb=page_kb, pinning=dict(pinning or {}),
                          shared_cpus=frozenset(shared), reserved_pcpus=frozenset(reserved))


def assignment(cells=(), vcpus=None, memory_mb=None, host='host-a', instance=UUID,
               shared=(), emulator=(), pci=(), sev=False, sev_es=False, sev_snp=False):
    vcpus = vcpus if vcpus is not None else sum(len(c.vcpus) for c in cells)
    memory_mb = memory_mb if memory_mb is not None else sum(c.memory_mb for c in cells)
    return Assignment(host=host, instance=instance, vcpus=vcpus, memory_mb=memory_mb,
                      cells=tuple(cells), shared_cpus=frozenset(shared),
                      emulator_pcpus=frozenset(emulator), pci_devices=tuple(pci), sev=sev,
                      sev_es=sev_es, sev_snp=sev_snp)


def pci(address, request, host_cell=0, physnet=None):
    return PciAssignment(address=address, host_cell=host_cell, request=request,
                         physical_network=physnet)


def spec_for(assignment, name='vm-1', **fields):
    """A RequestSpec consistent with ``assignment`` (NUMA cells mirror its cells)."""
    cells = tuple(GuestCell(c.guest_cell, c.vcpus, c.memory_mb) for c in assignment.cells)
    fields.setdefault('numa_cells', cells)
    return RequestSpec(name=name, vcpus=assignment.vcpus, memory_mb=assignment.memory_mb,
                       **fields)
