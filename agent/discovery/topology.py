"""Parsed libvirt documents + HostSettings -> the wire HostTopology (pure).

Choices, where Nova leaves room or libvirt is incomplete:

- CPUs: ``cpus`` = cpu_dedicated_set, ``shared_cpus`` = cpu_shared_set, each
  cut to the cell's online CPUs.  Neither option set: every CPU is shared
  and none dedicated (Nova's default).  A CPU named in an option but not
  online on the host, or in both options, is a configuration error.  Thread
  siblings are told among guest CPUs (dedicated or shared) only, as Nova
  does; a group left with one CPU is dropped.
- Memory per cell, first that applies: ``<memory>``; else the sum of the
  cell's ``<pages>`` (every page size, base pages included); else the host
  total (virNodeGetInfo) split evenly over the cells with no figure; else 0.
  A cell never reports less memory than its pages hold.
- Page pools: every size but the cell's smallest, which is the base page
  (4 KiB on x86, 64 KiB on POWER) and so small-page memory.  Counts are the
  pool totals libvirt reports (not what is free now) minus
  reserved_huge_pages; the reserved pages' memory is added to the cell's
  ``reserved_memory_mb`` so small-page memory is not over-counted.
- reserved_host_memory_mb is spread evenly over the cells, the remainder
  MiB going to the lowest cell ids.
"""

import logging

from agent.discovery import traits as host_traits
from agent.exceptions import InvalidConfig
from wire.cpuset import format_cpuset
from wire.topology import Cell, HostTopology, PciDevice

LOG = logging.getLogger(__name__)
BRIDGE = '0x0604'    # PCI class of a PCI-to-PCI bridge: in a group, but no endpoint


def build_topology(name, capabilities, devices, domcaps, settings, node_memory_kb=None,
                   vif_shaping=False):
    """The HostTopology this host reports; InvalidConfig if options contradict it.
    ``vif_shaping``: the kernel can shape NIC bandwidth (agent.discovery.shaping)."""
    dedicated, shared = guest_cpu_sets(capabilities, settings)
    memory_kb = cell_memory_kb(capabilities, node_memory_kb)
    reserved_mb = _spread(settings.reserved_host_memory_mb, [c.id for c in capabilities.cells])
    reserved_pages = _reserved_pages_by_cell(capabilities, settings)
    cells = tuple(_cell(caps_cell, dedicated, shared, memory_kb[caps_cell.id],
                        reserved_mb[caps_cell.id], reserved_pages.get(caps_cell.id, {}))
                  for caps_cell in capabilities.cells)
    sev_slots = sev_slot_count(domcaps, settings)
    return HostTopology(
        name=name, cells=cells, pci_devices=whitelisted_devices(devices, settings),
        sev_slots=sev_slots, sev_es_slots=sev_es_slot_count(domcaps),
        sev_snp_supported=bool(domcaps and domcaps.sev_snp_supported),
        secure_boot=bool(domcaps and domcaps.secure_boot),
        traits=host_traits.host_traits(capabilities, domcaps, sev_slots, vif_shaping)
        | settings.networks.traits())


def guest_cpu_sets(capabilities, settings):
    """(dedicated, shared) host CPU sets after checking them against the host."""
    online = frozenset().union(*(cell.online_cpu_ids for cell in capabilities.cells))
    dedicated, shared = settings.dedicated_set, settings.shared_set
    if dedicated is None and shared is None:
        return frozenset(), online
    dedicated, shared = dedicated or frozenset(), shared or frozenset()
    for option, cpus in (('[compute] cpu_dedicated_set', dedicated),
                         ('[compute] cpu_shared_set', shared)):
        if cpus - online:
            raise InvalidConfig(option, f"CPUs {format_cpuset(cpus - online)} are not online "
                                        f"on this host (online: {format_cpuset(online)})")
    if dedicated & shared:
        raise InvalidConfig('[compute] cpu_shared_set',
                            f"CPUs {format_cpuset(dedicated & shared)} are also in "
                            "cpu_dedicated_set")
    return dedicated, shared


def cell_memory_kb(capabilities, node_memory_kb=None):
    """{cell id: memory KiB} with the fallbacks described in the module docstring."""
    result = {}
    unknown = []
    for cell in capabilities.cells:
        pages_kb = sum(size * count for size, count in cell.pages.items())
        if cell.memory_kb is None and not cell.pages:
            unknown.append(cell.id)
            continue
        result[cell.id] = max(cell.memory_kb or 0, pages_kb)
    if unknown:
        LOG.warning('libvirt reports no memory for cells %s; using %s', unknown,
                    'the host total split evenly' if node_memory_kb else '0')
        share = (node_memory_kb or 0) // len(unknown)
        result.update({cell_id: share for cell_id in unknown})
    return result


def _cell(caps_cell, dedicated, shared, memory_kb, reserved_mb, reserved_pages):
    online = caps_cell.online_cpu_ids
    pools = {size: count for size, count in caps_cell.pages.items()
             if size != min(caps_cell.pages)}
    for size, count in reserved_pages.items():
        pools[size] -= count
        reserved_mb += size * count // 1024
    guest_cpus = (dedicated | shared) & online
    # Like Nova, siblings are told among guest CPUs only: a host-only thread is not counted.
    siblings = tuple(group & guest_cpus for group in caps_cell.sibling_groups
                     if len(group & guest_cpus) > 1)
    return Cell(id=caps_cell.id, cpus=dedicated & online, shared_cpus=shared & online,
                siblings=siblings, memory_mb=memory_kb // 1024,
                pages=pools, reserved_memory_mb=reserved_mb, socket=caps_cell.socket)


def _spread(total_mb, cell_ids):
    share, remainder = divmod(total_mb, len(cell_ids))
    return {cell_id: share + (1 if index < remainder else 0)
            for index, cell_id in enumerate(sorted(cell_ids))}


def _reserved_pages_by_cell(capabilities, settings):
    result = {}
    for index, entry in enumerate(settings.reserved_huge_pages):
        option = f"[DEFAULT] reserved_huge_pages[{index}]"
        try:
            cell = capabilities.cell(entry.node)
        except KeyError:
            raise InvalidConfig(option, f"node {entry.node} is not a NUMA cell of this host "
                                        f"(cells: {[c.id for c in capabilities.cells]})")
        pools = {s: n for s, n in cell.pages.items() if s != min(cell.pages)}
        if entry.size_kb not in pools:
            raise InvalidConfig(option, f"node {entry.node} has no {entry.size_kb} KiB "
                                        f"hugepage pool (pools: {sorted(pools)})")
        by_size = result.setdefault(entry.node, {})
        if entry.size_kb in by_size:
            raise InvalidConfig(option, f"node {entry.node} size {entry.size_kb} is "
                                        "reserved twice")
        if entry.count > pools[entry.size_kb]:
            raise InvalidConfig(option, f"count {entry.count} is more than the "
                                        f"{pools[entry.size_kb]} pages node {entry.node} "
                                        f"has of {entry.size_kb} KiB")
        by_size[entry.size_kb] = entry.count
    return result


def sev_slot_count(domcaps, settings):
    """SEV guests this host can run: libvirt's maxGuests capped by the option."""
    limit = settings.num_memory_encrypted_guests
    if domcaps is None or not domcaps.sev_supported:
        return 0
    reported = domcaps.sev_max_guests
    if reported is None and limit is None:
        LOG.warning('SEV is supported but libvirt reports no maxGuests; set '
                    '[libvirt] num_memory_encrypted_guests to offer SEV guests')
        return 0
    return min(v for v in (reported, limit) if v is not None)


def sev_es_slot_count(domcaps):
    """SEV-ES and SEV-SNP guests this host can run: libvirt's maxESGuests (a pool of its
    own, wire/sev.py); 0 without SEV or when libvirt does not say."""
    if domcaps is None or not domcaps.sev_supported:
        return 0
    return domcaps.sev_max_es_guests or 0


def whitelisted_devices(devices, settings):
    """The devices [pci] device_spec allows, with their physical_network tag.

    Each carries every member of its IOMMU group, whitelisted or not (the
    scheduler decides on whole groups, wire/iommu.py), PCI bridges left out.
    """
    bridges = {d.address for d in devices if (d.device_class or '').lower().startswith(BRIDGE)}
    result = []
    for device in devices:
        spec = next((s for s in settings.device_specs if s.matches(device)), None)
        if spec is None:
            continue
        result.append(PciDevice(
            address=device.address, vendor_id=device.vendor_id, product_id=device.product_id,
            type=device.type, parent=device.pf_address, numa_node=device.numa_node,
            physical_network=spec.physical_network, iommu_group=device.iommu_group,
            iommu_group_members=tuple(sorted(set(device.iommu_members) - bridges))))
    return tuple(sorted(result, key=lambda d: d.address))
