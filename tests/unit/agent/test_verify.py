"""The agent refuses an assignment its host contradicts, with a named reason."""

import dataclasses

import pytest

from agent import verify as v
from tests.unit.agent.domain.builders import assignment, cell, pci
from wire.topology import Cell, HostTopology, PciDevice

PF = PciDevice('0000:05:00.0', '8086', '1521', 'type-PF', numa_node=0, iommu_group=10,
               physical_network='physnet1')
VF1 = PciDevice('0000:05:10.0', '8086', '1520', 'type-VF', parent=PF.address, numa_node=0,
                iommu_group=20, physical_network='physnet1')
VF2 = PciDevice('0000:05:10.1', '8086', '1520', 'type-VF', parent=PF.address, numa_node=0,
                iommu_group=21, physical_network='physnet1')
GPU = PciDevice('0000:06:00.0', '10de', '1db4', numa_node=1, iommu_group=30)
GPU_AUDIO = PciDevice('0000:06:00.1', '10de', '10f2', numa_node=1, iommu_group=30)
SHARED_VF = PciDevice('0000:07:10.0', '8086', '1520', 'type-VF', parent='0000:07:00.0',
                      numa_node=0, iommu_group=40)
SHARED_PF = PciDevice('0000:07:00.0', '8086', '1521', 'type-PF', numa_node=0, iommu_group=40)
NO_GROUP = PciDevice('0000:08:00.0', '1af4', '1000', numa_node=0)

HOST = HostTopology(
    name='host-a',
    cells=(Cell(0, frozenset(range(2, 8)), frozenset({0, 1}), memory_mb=16384,
                pages={2048: 1024}),
           Cell(1, frozenset(range(10, 16)), frozenset({8, 9}), memory_mb=16384,
                pages={2048: 512, 1048576: 4})),
    pci_devices=(PF, VF1, VF2, GPU, GPU_AUDIO, SHARED_VF, SHARED_PF, NO_GROUP),
    sev_slots=1)
FREE = {0: {2048: 1024}, 1: {2048: 100, 1048576: 2}}
WHITELIST = {VF1.address, VF2.address, GPU.address, GPU_AUDIO.address, SHARED_VF.address,
             NO_GROUP.address}


def pinned(host_cell, pins, page_kb=4, memory_mb=1024, reserved=(), guest=0, **kwargs):
    vcpus = tuple(sorted(pins))
    return assignment([cell(guest, host_cell, vcpus, memory_mb, page_kb, pins,
                            reserved=reserved)], **kwargs)


OTHER = pinned(0, {0: 2, 1: 3}, instance='other', pci=[pci(VF2.address, 'port:0')], sev=True)


@pytest.mark.parametrize('case, placed, reasons', [
    ('fits', pinned(0, {0: 4, 1: 5}), []),
    ('fits with 2M pages', pinned(1, {0: 10}, page_kb=2048, memory_mb=200), []),
    ('wrong host', pinned(0, {0: 4}, host='host-b'), [v.WRONG_HOST]),
    ('unknown cell', pinned(3, {0: 4}), [v.UNKNOWN_HOST_CELL]),
    ('pcpu of another cell', pinned(0, {0: 10}), [v.PCPU_NOT_DEDICATED]),
    ('shared pcpu pinned', pinned(0, {0: 0}), [v.PCPU_NOT_DEDICATED]),
    ('pcpu held by another domain', pinned(0, {0: 3, 1: 4}), [v.PCPU_ALREADY_PINNED]),
    ('reserved sibling held by another domain', pinned(0, {0: 4}, reserved=(2,)),
     [v.PCPU_ALREADY_PINNED]),
    ('isolated emulator held elsewhere', pinned(0, {0: 4}, emulator=(3,)),
     [v.PCPU_ALREADY_PINNED]),
    ('isolated emulator not dedicated', pinned(0, {0: 4}, emulator=(20,)),
     [v.PCPU_NOT_DEDICATED]),
    ('shared set not shared', assignment(vcpus=2, memory_mb=512, shared=(0, 4)),
     [v.SHARED_CPU_NOT_SHARED]),
    ('too few 2M pages', pinned(1, {0: 10}, page_kb=2048, memory_mb=202),
     [v.INSUFFICIENT_FREE_PAGES]),
    ('too few 1G pages', pinned(1, {0: 10}, page_kb=1048576, memory_mb=3072),
     [v.INSUFFICIENT_FREE_PAGES]),
    ('page size without a pool', pinned(0, {0: 4}, page_kb=1048576),
     [v.INSUFFICIENT_FREE_PAGES]),
    ('vf fits', pinned(0, {0: 4}, pci=[pci(VF1.address, 'port:0')]), []),
    ('vf missing', pinned(0, {0: 4}, pci=[pci('0000:99:00.1', 'port:0')]),
     [v.PCI_DEVICE_MISSING]),
    ('pf not whitelisted', pinned(0, {0: 4}, pci=[pci(PF.address, 'alias:pf')]),
     [v.PCI_DEVICE_NOT_WHITELISTED]),
    ('vf held by another domain', pinned(0, {0: 4}, pci=[pci(VF2.address, 'port:0')]),
     [v.PCI_DEVICE_IN_USE]),
    ('whole group to one guest', pinned(0, {0: 4}, pci=[pci(GPU.address, 'alias:gpu'),
                                                          pci(GPU_AUDIO.address, 'alias:a')]),
     []),
    ('group member free and whitelisted', pinned(0, {0: 4}, pci=[pci(GPU.address, 'alias:g')]),
     []),
    ('group shared with a host-kept pf', pinned(0, {0: 4}, pci=[pci(SHARED_VF.address, 'p:0')]),
     [v.PCI_IOMMU_GROUP_SHARED]),
    ('unknown group not checked', pinned(0, {0: 4}, pci=[pci(NO_GROUP.address, 'alias:n')]),
     []),
    ('sev slots exhausted', pinned(0, {0: 4}, sev=True), [v.SEV_UNAVAILABLE]),
    ('no sev-es slots', pinned(0, {0: 4}, sev=True, sev_es=True), [v.SEV_UNAVAILABLE]),
    ('several at once', pinned(0, {0: 3, 1: 10}, page_kb=1048576),
     [v.PCPU_NOT_DEDICATED, v.PCPU_ALREADY_PINNED, v.INSUFFICIENT_FREE_PAGES]),
])
def test_verify(case, placed, reasons):
    violations = v.verify(HOST, FREE, [OTHER], placed, WHITELIST)
    assert sorted(x.reason for x in violations) == sorted(reasons), violations
    assert all(x.detail for x in violations)


def test_group_member_held_by_another_domain_blocks():
    other = pinned(1, {0: 12}, instance='gpu-holder', pci=[pci(GPU_AUDIO.address, 'alias:a')])
    placed = pinned(0, {0: 4}, pci=[pci(GPU.address, 'alias:gpu')])
    reasons = [x.reason for x in v.verify(HOST, FREE, [other], placed, WHITELIST)]
    assert reasons == [v.PCI_IOMMU_GROUP_SHARED]


def test_the_instance_itself_is_not_another_domain():
    placed = pinned(0, {0: 2, 1: 3}, instance='other')
    assert v.verify(HOST, FREE, [OTHER], placed, WHITELIST) == []


def test_no_whitelist_means_every_known_device():
    placed = pinned(0, {0: 4}, pci=[pci(PF.address, 'alias:pf')])
    # the PF's group holds only itself; without a whitelist it is allowed
    assert v.verify(HOST, FREE, [], placed, None) == []


def test_details_carry_the_numbers():
    placed = pinned(1, {0: 10}, page_kb=2048, memory_mb=202)
    violation, = v.verify(HOST, FREE, [], placed, WHITELIST)
    assert str(violation) == ('INSUFFICIENT_FREE_PAGES: host cell 1: 100 free 2M pages, '
                              'needs 101')


def test_sev_es_guests_take_their_own_pool():
    """OTHER holds the one plain SEV slot; an SEV-ES guest takes an ES slot (wire/sev.py)."""
    host = dataclasses.replace(HOST, sev_es_slots=1)
    placed = pinned(0, {0: 4}, sev=True, sev_es=True)
    assert v.verify(host, FREE, [OTHER], placed, WHITELIST) == []
    held = pinned(1, {0: 12}, instance='es-holder', sev=True, sev_es=True)
    [violation] = v.verify(host, FREE, [OTHER, held], placed, WHITELIST)
    assert (violation.reason, violation.detail) == (
        v.SEV_UNAVAILABLE, '1 of 1 SEV-ES slots used, needs 1')


SNP_GUEST = {'sev': True, 'sev_es': True, 'sev_snp': True}


@pytest.mark.parametrize('snp, es_slots, held, detail', [
    (True, 1, [], None),
    (True, 1, [{'sev': True, 'sev_es': True}], '1 of 1 SEV-ES/SNP slots used, needs 1'),
    (True, 1, [SNP_GUEST], '1 of 1 SEV-ES/SNP slots used, needs 1'),
    (True, 2, [SNP_GUEST], None),
    (True, 0, [], '0 of 0 SEV-ES/SNP slots used, needs 1'),
    (False, 4, [], 'the host has no SEV-SNP support (0 SEV-SNP slots), needs 1'),
])
def test_sev_snp_guests_need_support_and_an_es_slot(snp, es_slots, held, detail):
    """OTHER holds the one plain SEV slot, which an SEV-SNP guest never takes."""
    host = dataclasses.replace(HOST, sev_es_slots=es_slots, sev_snp_supported=snp)
    others = [OTHER] + [pinned(1, {0: 12 + i}, instance=f'es-{i}', **flags)
                        for i, flags in enumerate(held)]
    found = v.verify(host, FREE, others, pinned(0, {0: 4}, **SNP_GUEST), WHITELIST)
    assert found == ([] if detail is None else [v.Violation(v.SEV_UNAVAILABLE, detail)])


def test_an_snp_guest_holds_the_slot_an_es_guest_needs():
    host = dataclasses.replace(HOST, sev_es_slots=1, sev_snp_supported=True)
    snp = pinned(1, {0: 12}, instance='snp', **SNP_GUEST)
    [violation] = v.verify(host, FREE, [snp], pinned(0, {0: 4}, sev=True, sev_es=True),
                           WHITELIST)
    assert violation.detail == '1 of 1 SEV-ES slots used, needs 1'

