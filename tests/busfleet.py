"""Generated hosts and requests for the bus tests (scheduler manager, functional, bench)."""

PHYSNET = 'physnet1'


def host(name, cells=2, pcpus_per_cell=8, shared_per_cell=2, memory_mb=16384,
         pages_2m=1024, vfs_per_cell=2):
    """A fleet-file host dict: ``cells`` NUMA cells, dedicated + shared CPUs, 2M pages, VFs."""
    result = {'name': name, 'cells': [], 'pci_devices': []}
    cpu = 0
    for cell in range(cells):
        dedicated = list(range(cpu, cpu + pcpus_per_cell))
        shared = list(range(cpu + pcpus_per_cell, cpu + pcpus_per_cell + shared_per_cell))
        cpu += pcpus_per_cell + shared_per_cell
        result['cells'].append({'id': cell, 'cpus': dedicated, 'shared_cpus': shared,
                                'siblings': [], 'memory_mb': memory_mb,
                                'pages': {'2048': pages_2m} if pages_2m else {}})
        if vfs_per_cell:
            pf = f"0000:{0x81 + cell:02x}:00.0"
            result['pci_devices'].append({'address': pf, 'vendor_id': '8086',
                                          'product_id': '10fb', 'type': 'type-PF',
                                          'numa_node': cell, 'physical_network': PHYSNET})
            for vf in range(vfs_per_cell):
                result['pci_devices'].append({
                    'address': f"0000:{0x81 + cell:02x}:10.{vf}", 'vendor_id': '8086',
                    'product_id': '10ed', 'type': 'type-VF', 'parent': pf, 'numa_node': cell,
                    'physical_network': PHYSNET})
    return result


def fleet(count, prefix='host', **shape):
    return [host(f"{prefix}-{i:04d}", **shape) for i in range(count)]


PINNED = {'name': 'pinned', 'vcpus': 2, 'memory_mb': 1024,
          'extra_specs': {'hw:cpu_policy': 'dedicated'}}
HUGE = {'name': 'huge', 'vcpus': 2, 'memory_mb': 1024,
        'extra_specs': {'hw:cpu_policy': 'dedicated', 'hw:mem_page_size': '2MB'}}
SRIOV = {'name': 'sriov', 'vcpus': 2, 'memory_mb': 1024,
         'extra_specs': {'hw:cpu_policy': 'dedicated'},
         'ports': [{'vnic_type': 'direct', 'physical_network': PHYSNET}]}
SHARED = {'name': 'shared', 'vcpus': 2, 'memory_mb': 1024, 'extra_specs': {}}
MIXED = (PINNED, HUGE, SRIOV, SHARED)


def request(template, name=None, **changes):
    result = dict(template, **changes)
    if name:
        result['name'] = name
    return result
