"""Domain XML facts of a migration, on the builder's own XML."""

import xml.etree.ElementTree as ET

import pytest

from agent.domain import domain_xml
from agent.domain import migration as facts
from tests.unit.agent.domain.builders import (
    DISK_IMAGE,
    KERNEL_IMAGE,
    UUID,
    assignment,
    cell,
    pci,
    settings,
    spec_for,
)
from wire.request_spec import CPU_DEDICATED, PortRequest

VF = '0000:81:10.1'


def build(pins=None, host_cell=0, page_kb=2048, direct_port=False, image=KERNEL_IMAGE,
          alias=False, emulator=()):
    pins = pins or {0: 2, 1: 3}
    devices = ((pci(VF, 'port:0', host_cell, 'physnet1'),) if direct_port else ()) + \
        ((pci('0000:03:00.0', 'alias:gpu', host_cell),) if alias else ())
    placed = assignment([cell(0, host_cell, (0, 1), 256, page_kb, pins)], pci=devices,
                        emulator=emulator)
    ports = (PortRequest(vnic_type='direct', physical_network='physnet1'),) if direct_port \
        else ()
    spec = spec_for(placed, cpu_policy=CPU_DEDICATED, dedicated_vcpus=frozenset(pins),
                    ports=ports)
    disk = {'disk_path': f"/var/lib/kvmfleet/instances/{UUID}/disk.qcow2"} \
        if image.get('disk') else {}
    return placed, domain_xml(spec, placed, image, settings(**disk), None)


def test_direct_ports_are_listed_and_left_out():
    _, xml = build(direct_port=True)
    ports = facts.direct_ports(xml)
    assert len(ports) == 1 and ET.fromstring(ports[0]).get('type') == 'hostdev'
    assert facts.vf_address(ports[0]) == (0, 0x81, 0x10, 1)
    live = ports[0].replace('<source>', "<alias name='hostdev0'/><source>")
    assert facts.vf_address(live) == facts.vf_address(ports[0])
    stripped = facts.without_direct_ports(xml)
    assert facts.direct_ports(stripped) == []
    assert ET.fromstring(stripped).find('devices/serial') is not None    # the rest stays


@pytest.mark.parametrize('change, blocker', [
    ({}, None),
    ({'direct_port': True}, None),          # unplugged and plugged by the driver
    ({'alias': True}, 'passed-through PCI device'),
])
def test_live_migration_blockers(change, blocker):
    _, xml = build(**change)
    found = facts.live_migration_blocker(xml)
    assert (found is None) if blocker is None else (blocker in found)


@pytest.mark.parametrize('kind', ['sev', 'sev-snp'])
def test_an_sev_domain_cannot_move_live(kind):
    _, xml = build()
    sev = xml.replace('</domain>', f"<launchSecurity type='{kind}'/></domain>")
    assert 'SEV' in facts.live_migration_blocker(sev)


def test_a_disk_overlay_is_a_local_disk():
    assert facts.has_local_disk(build(image=DISK_IMAGE)[1])
    assert not facts.has_local_disk(build()[1])


def test_a_domain_built_from_the_assignment_has_no_violations():
    placed, xml = build(emulator=(4,))
    pins, emulator = facts.defined_pins(xml)
    assert pins == {0: frozenset({2}), 1: frozenset({3})} and emulator == frozenset({4})
    assert facts.running_violations(xml, placed, pins, emulator) == []


@pytest.mark.parametrize('other, problem', [
    ({'pins': {0: 4, 1: 5}}, 'vcpupin: vCPU 0 may run on 2, claimed 4'),
    ({'host_cell': 1}, "numatune: guest cell -> host cell {'0': '0'}, claimed {'0': '1'}"),
    ({'page_kb': 4}, 'hugepages: page size KiB -> guest cells {2048: '),
])
def test_each_difference_from_the_claim_is_named(other, problem):
    _, xml = build()
    claimed, _ = build(**other)
    pins, emulator = facts.defined_pins(xml)
    found = facts.running_violations(xml, claimed, pins, emulator)
    assert any(p.startswith(problem) for p in found), found
    assert 'metadata: the domain does not carry the claimed assignment' in found


def test_live_pins_are_compared_not_the_definition():
    placed, xml = build()
    found = facts.running_violations(xml, placed, {0: frozenset({2}), 1: frozenset({2, 3})},
                                     frozenset({2, 3}))
    assert found == ['vcpupin: vCPU 1 may run on 2-3, claimed 3']
