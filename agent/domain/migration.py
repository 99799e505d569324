"""Domain XML facts a migration needs: what blocks it, the SR-IOV ports it moves by hand,
and whether a running domain is what its assignment says.

SR-IOV direct ports (``<interface type='hostdev'>``) cannot travel with the
guest's memory: they are unplugged on the source before a live migration,
left out of the XML the destination starts with, and the destination's own
claimed VF is plugged in after (Nova's way).  Whole-device passthrough
(``<hostdev>``, PCI alias requests) and SEV guests cannot be live-migrated.
"""

import xml.etree.ElementTree as ET

from agent.domain import cputune, memory
from agent.domain.metadata import read_metadata
from wire.cpuset import format_cpuset, parse_cpuset


def _domain(xml):
    return ET.fromstring(xml) if isinstance(xml, str) else xml


def _text(element):
    return ET.tostring(element, encoding='unicode')


def direct_ports(xml):
    """The XML of each SR-IOV direct port (``<interface type='hostdev'>``), in device order."""
    devices = _domain(xml).find('devices')
    if devices is None:
        return []
    return [_text(e) for e in devices.findall('interface') if e.get('type') == 'hostdev']


def vf_address(port_xml):
    """The PCI address (domain, bus, slot, function) of a direct port's VF, as integers."""
    address = _domain(port_xml).find('source/address')
    if address is None:
        return None
    return tuple(int(address.get(key, '0'), 0) for key in ('domain', 'bus', 'slot', 'function'))


def without_direct_ports(xml):
    """The domain XML with its SR-IOV direct ports left out."""
    domain = _domain(xml)
    devices = domain.find('devices')
    if devices is not None:
        for interface in devices.findall('interface'):
            if interface.get('type') == 'hostdev':
                devices.remove(interface)
    return _text(domain)


def live_migration_blocker(xml):
    """Why this domain cannot be live-migrated, or None."""
    domain = _domain(xml)
    security = domain.find('launchSecurity')
    if security is not None and security.get('type', 'sev').startswith('sev'):
        return 'an SEV guest\'s encrypted memory cannot be migrated live'
    devices = domain.find('devices')
    if devices is not None and devices.find('hostdev') is not None:
        return 'a passed-through PCI device (alias request) cannot be migrated live'
    return None


def has_local_disk(xml):
    """Whether the domain has a file-backed disk (the instance's overlay)."""
    devices = _domain(xml).find('devices')
    return devices is not None and any(disk.get('type') == 'file' and disk.get('device', 'disk')
                                       == 'disk' for disk in devices.findall('disk'))


def defined_pins(xml):
    """({vcpu: pCPUs}, emulator pCPUs) a domain's <cputune> asks for (a stopped guest)."""
    domain = _domain(xml)
    pins = {int(pin.get('vcpu')): parse_cpuset(pin.get('cpuset'))
            for pin in domain.findall('cputune/vcpupin')}
    emulator = domain.find('cputune/emulatorpin')
    return pins, parse_cpuset(emulator.get('cpuset')) if emulator is not None else frozenset()


def running_violations(live_xml, assignment, vcpu_pins, emulator_pins):
    """Every way the running domain differs from ``assignment`` (empty: as claimed).

    ``live_xml`` is libvirt's live XML; ``vcpu_pins`` ({vcpu: pCPUs}) and
    ``emulator_pins`` (pCPUs) are what libvirt says the threads may run on now.
    The expected values come from the builder's own rules (agent.domain.cputune,
    agent.domain.memory), so a build and a migration are checked alike.
    """
    domain = _domain(live_xml)
    problems = []
    parsed = read_metadata(_text(domain))
    if not isinstance(parsed, tuple) or parsed[2] != assignment:
        problems.append('metadata: the domain does not carry the claimed assignment')
    expected_pins = cputune.vcpu_pins(assignment)
    for vcpu in sorted(expected_pins):
        if vcpu_pins.get(vcpu) != expected_pins[vcpu]:
            problems.append(f"vcpupin: vCPU {vcpu} may run on "
                            f"{format_cpuset(vcpu_pins.get(vcpu, ()))}, claimed "
                            f"{format_cpuset(expected_pins[vcpu])}")
    emulator = cputune.emulator_pcpus(assignment)
    if emulator and frozenset(emulator_pins) != frozenset(emulator):
        problems.append(f"emulatorpin: {format_cpuset(emulator_pins)}, claimed "
                        f"{format_cpuset(emulator)}")
    problems += _numatune_problems(domain, assignment)
    problems += _hugepage_problems(domain, assignment)
    return problems


def _numatune_problems(domain, assignment):
    live = {node.get('cellid'): node.get('nodeset')
            for node in domain.findall('numatune/memnode')}
    claimed = {str(c.guest_cell): str(c.host_cell) for c in assignment.cells}
    if live != claimed:
        return [f"numatune: guest cell -> host cell {live}, claimed {claimed}"]
    return []


def _hugepage_problems(domain, assignment):
    live = {}
    for page in domain.findall('memoryBacking/hugepages/page'):
        live[int(page.get('size'))] = page.get('nodeset')
    claimed = {size: format_cpuset(cells)
               for size, cells in memory.hugepage_cells(assignment).items()}
    if live != claimed:
        return [f"hugepages: page size KiB -> guest cells {live}, claimed {claimed}"]
    return []
