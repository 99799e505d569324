"""What ``hosts`` and ``host_detail`` answer: per host and per cell, used and free resources.

``usage_view`` is the one description of a host's state: the scheduler's warm view
(``host_view``) and a fleet file read offline (``kvmfleet hosts --fleet``) both use it.
"""

from scheduler.engine.fleet import free_pci_devices
from scheduler.fitting.pci import vf_physical_network
from wire import rpc


def host_view(state, name, flagged=()):
    """A plain dict describing one host of the warm view."""
    return usage_view(state.fleet.state(name), up=state.up.get(name, False),
                      enabled=state.enabled.get(name, False),
                      last_heartbeat=state.heartbeats.get(name),
                      generation=state.generations.get(name), unknown_domains=list(flagged))


def host_detail(state, name, held, flagged=()):
    """``host_view`` plus the topology: cells' pCPUs and siblings, PCI devices, and the
    instances the host holds (``held``: the store's HeldInstance claims) with their
    assignments: what the dashboard draws."""
    topology = state.fleet.state(name).topology.to_dict()
    topology['instances'] = [{'uuid': h.assignment.instance, 'name': h.name,
                              'assignment': h.assignment.to_dict()} for h in held]
    return dict(host_view(state, name, flagged), topology=topology)


def usage_view(host, up, enabled, **extra):
    """The used and free resources of ``host`` (a fleet HostState), per cell."""
    topology, usage = host.topology, host.usage
    free_pci = {d.address for d in free_pci_devices(topology, usage)}
    return {
        'name': topology.name, 'up': up, 'enabled': enabled,
        'last_heartbeat': None, 'generation': None, **extra,
        'instances': usage.instances,
        'aggregates': sorted(topology.aggregates),
        'cells': [_cell_view(topology, usage, cell, free_pci) for cell in topology.cells],
        'vfs_by_physnet': _vfs_by_physnet(topology, free_pci, None),
        'unknown_domains': extra.get('unknown_domains', []),
    }


def fleet_views(fleet):
    """``usage_view`` of every host of a FleetView read from a fleet file (its own up and
    enabled flags): what ``kvmfleet hosts --fleet`` and ``simulate -f html`` describe."""
    return [usage_view(host, up=host.topology.up, enabled=host.topology.enabled)
            for host in fleet.hosts()]


def _cell_view(topology, usage, cell, free_pci):
    free_pcpus = cell.cpus - usage.pinned
    pages = {}
    for size_kb, count in sorted(cell.pages.items()):
        used = usage.pages_used(cell.id, size_kb)
        pages[str(size_kb)] = {'total': count, 'used': used, 'free': count - used}
    return {
        'id': cell.id,
        'pcpus': {'total': len(cell.cpus), 'used': len(cell.cpus) - len(free_pcpus),
                  'free': len(free_pcpus)},
        'shared_cpus': len(cell.shared_cpus),
        'shared_vcpus_used': usage.shared_vcpus_by_cell.get(cell.id, 0),
        'small_page_mb': {'total': cell.small_page_mb,
                          'used': usage.small_mb_by_cell.get(cell.id, 0)},
        'pages': pages,
        'vfs_by_physnet': _vfs_by_physnet(topology, free_pci, cell.id),
    }


def _vfs_by_physnet(topology, free_pci, cell_id):
    """VFs per physical network (fitting.pci.vf_physical_network; '-': untagged)."""
    result = {}
    for device in topology.pci_devices:
        if device.type != 'type-VF' or (cell_id is not None and device.numa_node != cell_id):
            continue
        physnet = vf_physical_network(device)
        entry = result.setdefault(physnet or '-', {'total': 0, 'used': 0, 'free': 0})
        entry['total'] += 1
        entry['free' if device.address in free_pci else 'used'] += 1
    return result


def check_image(state, image):
    """NoValidHost, before any claim, when ``image`` is on no host that is up and enabled.

    Agents report their images (HostTopology.images); a host that reports none (an
    older agent, a fleet file) may have any.  None: the request names no image (the
    agent's [agent] default_image is used), nothing to check.
    """
    if image is None:
        return
    for host in state.fleet.hosts():
        if state.up.get(host.name, False) and state.enabled.get(host.name, False) and (
                host.topology.images is None or image in host.topology.images):
            return
    raise rpc.BusError(rpc.NO_VALID_HOST, f"image {image}: no host that is up and enabled "
                       'has it', {'instances': []})
