"""<memory>, <memoryBacking> and whether the guest gets a balloon.

Each guest cell's memory comes from the page pool the scheduler named for it;
one <page> per page size lists the guest cells backed by that size.
"""

import xml.etree.ElementTree as ET

from wire.cpuset import format_cpuset

SMALL_PAGE_KB = 4


def hugepage_cells(assignment):
    """{page size KiB: guest cell ids} for the hugepage-backed guest cells."""
    sizes = {}
    for cell in assignment.cells:
        if cell.page_size_kb != SMALL_PAGE_KB:
            sizes.setdefault(cell.page_size_kb, set()).add(cell.guest_cell)
    return sizes


def memory_elements(assignment):
    """<memory> and <currentMemory> in KiB."""
    kib = str(assignment.memory_mb * 1024)
    memory = ET.Element('memory', {'unit': 'KiB'})
    memory.text = kib
    current = ET.Element('currentMemory', {'unit': 'KiB'})
    current.text = kib
    return [memory, current]


def memory_backing_element(spec, assignment):
    """<memoryBacking>, or None when small pages need nothing special.

    SEV guests and realtime guests lock their memory (SEV pages cannot be
    swapped; realtime guests must not fault on swapped pages).
    """
    sizes = hugepage_cells(assignment)
    locked = assignment.sev or spec.mem_encryption or bool(spec.realtime_vcpus)
    if not sizes and not locked:
        return None
    backing = ET.Element('memoryBacking')
    if sizes:
        hugepages = ET.SubElement(backing, 'hugepages')
        for size_kb in sorted(sizes):
            ET.SubElement(hugepages, 'page', {'size': str(size_kb), 'unit': 'KiB',
                                              'nodeset': format_cpuset(sizes[size_kb])})
    if spec.realtime_vcpus:
        ET.SubElement(backing, 'nosharepages')
    if locked:
        ET.SubElement(backing, 'locked')
    return backing


def wants_balloon(spec, assignment):
    """No balloon for hugepage-backed or realtime guests: it cannot reclaim their memory."""
    return not hugepage_cells(assignment) and not spec.realtime_vcpus
