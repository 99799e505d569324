"""<vcpu> and <cputune>: the exact vCPU -> pCPU map the scheduler decided.

Every vCPU gets a vcpupin: a pinned vCPU to its one pCPU, an unpinned one to
the shared set of its guest cell.  Emulator threads go where the assignment
says (isolate: their own pCPU; share: the shared set or, without one, the
instance's own pinned pCPUs).  Realtime vCPUs run SCHED_FIFO priority 1.
"""

import xml.etree.ElementTree as ET

from wire.cpuset import format_cpuset

REALTIME_SCHEDULER = 'fifo'
REALTIME_PRIORITY = '1'


def vcpu_element(spec, assignment):
    """<vcpu>; a guest without NUMA topology floats over the shared set through it."""
    vcpu = ET.Element('vcpu', {'placement': 'static'})
    if not assignment.cells and assignment.shared_cpus:
        vcpu.set('cpuset', format_cpuset(assignment.shared_cpus))
    vcpu.text = str(assignment.vcpus)
    return vcpu


def vcpu_pins(assignment):
    """{vcpu: frozenset of pCPUs} for every vCPU of a NUMA guest (empty otherwise)."""
    pins = {}
    for cell in assignment.cells:
        floating = cell.shared_cpus or assignment.shared_cpus
        for vcpu in cell.vcpus:
            if vcpu in cell.pinning:
                pins[vcpu] = frozenset((cell.pinning[vcpu],))
            elif floating:
                pins[vcpu] = frozenset(floating)
    return pins


def emulator_pcpus(assignment):
    """Where the emulator threads run, per the assignment (empty: libvirt's default)."""
    if assignment.emulator_pcpus:
        return assignment.emulator_pcpus
    if assignment.shared_cpus:
        return assignment.shared_cpus
    pinned = set()
    for cell in assignment.cells:
        pinned.update(cell.pinning.values())
    return frozenset(pinned)


def cputune_element(spec, assignment, tunables=()):
    """<cputune>, or None when nothing is pinned and no ``quota:cpu_*`` tunable is set.

    ``tunables`` are (element, value) pairs: shares, period, quota.
    """
    pins = vcpu_pins(assignment)
    if not pins and not tunables:
        return None
    cputune = ET.Element('cputune')
    for element, value in tunables:
        ET.SubElement(cputune, element).text = str(value)
    for vcpu in sorted(pins):
        ET.SubElement(cputune, 'vcpupin', {'vcpu': str(vcpu), 'cpuset': format_cpuset(pins[vcpu])})
    emulator = emulator_pcpus(assignment)
    if emulator:
        ET.SubElement(cputune, 'emulatorpin', {'cpuset': format_cpuset(emulator)})
    if spec.realtime_vcpus:
        ET.SubElement(cputune, 'vcpusched', {
            'vcpus': format_cpuset(spec.realtime_vcpus),
            'scheduler': REALTIME_SCHEDULER, 'priority': REALTIME_PRIORITY})
    return cputune
