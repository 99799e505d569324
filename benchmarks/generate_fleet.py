"""Generate a fleet file of N realistic 2-socket KVM hosts, partly filled.

Each host: 2 NUMA cells x 32 threads (16 cores x 2 threads); per cell core 0
is left to the host, cores 1-3 are the shared set, cores 4-15 dedicated;
128 GiB per cell with 16 x 1G and 8192 x 2M hugepages and 4 GiB reserved;
one SR-IOV PF per cell (physnet1 on cell 0, physnet2 on cell 1) with a few
VFs.  "Partly filled": each host runs a few instances placed by the real
engine (pinned, hugepage, SR-IOV and floating guests).

    python benchmarks/generate_fleet.py --hosts 1000 --out /tmp/fleet-1000.json
"""

import argparse
import json
import pathlib
import random
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from scheduler.engine import EngineSettings, build_engine  # noqa: E402
from scheduler.engine.fleet import FleetView  # noqa: E402
from scheduler.specs import parse_request  # noqa: E402
from wire.topology import HostTopology  # noqa: E402

CORES_PER_CELL, CELLS, THREADS = 16, 2, 2
CELL_MEMORY_MB = 131072
PF_VENDOR, PF_PRODUCT, VF_PRODUCT = '8086', '158b', '154c'
PF_BUS = ('3b', 'd8')

# What already runs on a partly filled host (raw requests, Nova extra specs).
FILL_SHAPES = (
    {'vcpus': 4, 'memory_mb': 8192, 'extra_specs': {'hw:cpu_policy': 'dedicated'}},
    {'vcpus': 8, 'memory_mb': 16384, 'extra_specs': {
        'hw:cpu_policy': 'dedicated', 'hw:mem_page_size': '1GB', 'hw:numa_nodes': '2'}},
    {'vcpus': 4, 'memory_mb': 4096, 'extra_specs': {'hw:mem_page_size': '2MB'}},
    {'vcpus': 2, 'memory_mb': 4096, 'extra_specs': {}},
    {'vcpus': 4, 'memory_mb': 8192, 'extra_specs': {
        'hw:cpu_policy': 'dedicated', 'hw:mem_page_size': 'large'},
     'ports': [{'vnic_type': 'direct', 'physical_network': 'physnet1'}]},
)


def cpu_id(cell, core, thread):
    """Linux numbering: first threads of all cores of all cells, then second threads."""
    return cell * CORES_PER_CELL + core + thread * CELLS * CORES_PER_CELL


def cell_dict(cell):
    def threads(cores):
        return sorted(cpu_id(cell, c, t) for c in cores for t in range(THREADS))
    return {
        'id': cell,
        'cpus': threads(range(4, CORES_PER_CELL)),
        'shared_cpus': threads(range(1, 4)),
        'siblings': [threads([c]) for c in range(CORES_PER_CELL)],
        'memory_mb': CELL_MEMORY_MB,
        'reserved_memory_mb': 4096,
        'pages': {'1048576': 16, '2048': 8192},
    }


def sriov_devices(vfs_per_cell, first_group=10):
    """One PF per cell and its VFs, each function in its own IOMMU group."""
    devices, group = [], first_group
    for cell, bus in enumerate(PF_BUS):
        pf = f'0000:{bus}:00.0'
        physnet = f'physnet{cell + 1}'
        devices.append({'address': pf, 'vendor_id': PF_VENDOR, 'product_id': PF_PRODUCT,
                        'type': 'type-PF', 'numa_node': cell, 'physical_network': physnet,
                        'iommu_group': group})
        group += 1
        for index in range(vfs_per_cell):
            devices.append({'address': f'0000:{bus}:02.{index}', 'vendor_id': PF_VENDOR,
                            'product_id': VF_PRODUCT, 'type': 'type-VF', 'parent': pf,
                            'numa_node': cell, 'physical_network': physnet,
                            'iommu_group': group})
            group += 1
    return devices


def host_dict(name, vfs_per_cell=4, **extra):
    """An empty host in fleet-file form; ``extra`` adds or overrides top-level fields."""
    host = {'name': name, 'cells': [cell_dict(c) for c in range(CELLS)],
            'pci_devices': sriov_devices(vfs_per_cell), 'traits': ['HW_CPU_X86_AVX2'],
            'aggregates': {'az1': {'availability_zone': 'az1'}}}
    host.update(extra)
    return host


def filled(host, instances, rng, engine):
    """``host`` with up to ``instances`` guests placed on it by the engine."""
    fleet = FleetView([HostTopology.from_dict(host)])
    for index in range(instances):
        raw = dict(rng.choice(FILL_SHAPES), name=f'{host["name"]}-vm{index}')
        placement = engine.place(parse_request(raw), fleet, [raw['name']])
        for assignment in placement.assignments:
            fleet.apply(assignment)
            host.setdefault('instances', []).append(
                {'uuid': assignment.instance, 'name': assignment.instance,
                 'assignment': assignment.to_dict()})
    return host


def generate(hosts, seed=1, templates=40, max_fill=6):
    """A fleet document of ``hosts`` hosts, cloned from a few filled templates."""
    rng, engine = random.Random(seed), build_engine(EngineSettings())
    shapes = [filled(host_dict(f'template-{i}'), rng.randint(0, max_fill), rng, engine)
              for i in range(templates)]
    fleet = []
    for index in range(hosts):
        fleet.append(_renamed(shapes[index % templates], f'host-{index:05d}'))
    return {'version': 1, 'hosts': fleet}


def _renamed(template, name):
    text = json.dumps(template).replace(template['name'], name)
    return json.loads(text)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--hosts', type=int, default=1000)
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--out', required=True)
    args = parser.parse_args(argv)
    pathlib.Path(args.out).write_text(json.dumps(generate(args.hosts, args.seed)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
