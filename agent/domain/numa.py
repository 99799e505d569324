"""<numatune> and <cpu>: guest cells on the host cells the scheduler chose.

Memory is strict: the guest's memory comes only from its host cells, and each
guest cell's memory only from its own host cell (one memnode per guest cell).
"""

import xml.etree.ElementTree as ET

from agent.domain.settings import DomainBuildError
from wire.cpuset import format_cpuset
from wire.errors import InvalidInput
from wire.guest_cpu import guest_cpu_topology


def numatune_element(assignment):
    """<numatune>, or None for a guest without NUMA topology."""
    if not assignment.cells:
        return None
    numatune = ET.Element('numatune')
    host_cells = {cell.host_cell for cell in assignment.cells}
    ET.SubElement(numatune, 'memory', {'mode': 'strict', 'nodeset': format_cpuset(host_cells)})
    for cell in sorted(assignment.cells, key=lambda c: c.guest_cell):
        ET.SubElement(numatune, 'memnode', {'cellid': str(cell.guest_cell), 'mode': 'strict',
                                            'nodeset': str(cell.host_cell)})
    return numatune


def cpu_topology(spec, assignment):
    """(sockets, cores, threads): wire.guest_cpu's rule, the one the scheduler checked."""
    try:
        topology = guest_cpu_topology(assignment.vcpus,
                                      tuple(len(cell.vcpus) for cell in assignment.cells),
                                      spec.extra_specs, spec.image_properties)
    except InvalidInput as exc:
        raise DomainBuildError(str(exc))
    return topology.sockets, topology.cores, topology.threads


def cpu_element(spec, assignment, settings):
    """<cpu> with the configured mode, the topology and the guest NUMA cells."""
    mode = settings.effective_cpu_mode()
    cpu = ET.Element('cpu')
    if mode in ('host-passthrough', 'host-model'):
        cpu.set('mode', mode)
    elif mode == 'custom':
        cpu.attrib.update({'mode': 'custom', 'match': 'exact'})
        if settings.cpu_model:
            ET.SubElement(cpu, 'model', {'fallback': 'forbid'}).text = settings.cpu_model
    sockets, cores, threads = cpu_topology(spec, assignment)
    ET.SubElement(cpu, 'topology', {'sockets': str(sockets), 'dies': '1', 'cores': str(cores),
                                    'threads': str(threads)})
    if assignment.cells:
        numa = ET.SubElement(cpu, 'numa')
        for cell in sorted(assignment.cells, key=lambda c: c.guest_cell):
            attrs = {'id': str(cell.guest_cell), 'cpus': format_cpuset(cell.vcpus),
                     'memory': str(cell.memory_mb), 'unit': 'MiB'}
            if cell.page_size_kb != 4:
                # hugepage-backed memory is shared so vhost-user style backends can map it
                attrs['memAccess'] = 'shared'
            ET.SubElement(numa, 'cell', attrs)
    return cpu
