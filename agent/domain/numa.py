"""<numatune> and <cpu>: guest cells on the host cells the scheduler chose.

Memory is strict: the guest's memory comes only from its host cells, and each
guest cell's memory only from its own host cell (one memnode per guest cell).
"""

import xml.etree.ElementTree as ET

from wire.cpuset import format_cpuset

TOPOLOGY_KEYS = (('sockets', 'hw:cpu_sockets', 'hw_cpu_sockets'),
                 ('cores', 'hw:cpu_cores', 'hw_cpu_cores'),
                 ('threads', 'hw:cpu_threads', 'hw_cpu_threads'))


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
    """(sockets, cores, threads) whose product is the vCPU count.

    Explicit hw:cpu_sockets/cores/threads (flavor) or hw_cpu_* (image) win when
    they multiply to the vCPU count (a missing one is solved for; with neither
    sockets nor cores, one socket per guest cell); otherwise one socket per
    guest NUMA cell when the cells are equal, else one socket, one thread per core.
    """
    vcpus = assignment.vcpus
    cells = len(assignment.cells) or 1
    equal_cells = vcpus % cells == 0 and all(len(c.vcpus) == vcpus // cells
                                             for c in assignment.cells)
    default_sockets = cells if equal_cells else 1
    explicit = _explicit_topology(spec)
    if explicit:
        threads = explicit.get('threads', 1)
        sockets, cores = explicit.get('sockets'), explicit.get('cores')
        if sockets is None and cores is None:
            sockets = default_sockets
        if sockets is None:
            sockets = vcpus // (cores * threads) or 1
        if cores is None:
            cores = vcpus // (sockets * threads) or 1
        if sockets * cores * threads == vcpus:
            return sockets, cores, threads
    return default_sockets, vcpus // default_sockets, 1


def _explicit_topology(spec):
    found = {}
    for name, flavor_key, image_key in TOPOLOGY_KEYS:
        raw = spec.extra_specs.get(flavor_key, spec.image_properties.get(image_key))
        try:
            value = int(raw) if raw is not None else None
        except (TypeError, ValueError):
            value = None
        if value and value > 0:
            found[name] = value
    return found


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
