"""What discovery builds from every real capture passes the scheduler's consistency rules."""

import pytest

from agent.discovery import pci_spec
from agent.discovery.capabilities import parse_capabilities
from agent.discovery.nodedev import parse_pci_device
from agent.discovery.opts import HostSettings
from agent.discovery.topology import build_topology
from tests.unit.agent.fakes import read
from wire.files import parse_fleet
from wire.topology import HostTopology

CAPABILITIES = ('libvirt_vircaps-x86_64-resctrl-amd.xml', 'vdsm_caps_libvirt_amd_6274.xml',
                'vdsm_caps_libvirt_ibm_S822L_le.xml', 'vdsm_caps_libvirt_intel_E5649.xml',
                'vdsm_caps_libvirt_multiqemu.xml', 'virtmanager_kvm-aarch64.xml',
                'virtmanager_kvm-ppc64le.xml', 'virtmanager_kvm-x86_64.xml',
                'virttuner_caps_cascadelake_2socket.xml')


def _every_other_cpu_dedicated(caps):
    cpus = sorted(cpu for cell in caps.cells for cpu in cell.online_cpu_ids)
    return frozenset(cpus[::2]), frozenset(cpus[1::2])


@pytest.mark.parametrize('name', CAPABILITIES)
def test_every_capture_builds_a_consistent_topology(shared_fixtures, name):
    caps = parse_capabilities(read(shared_fixtures / 'capabilities' / name))
    devices = tuple(parse_pci_device(read(path))
                    for path in sorted((shared_fixtures / 'nodedev').glob('*.xml'))
                    if 'network_adapter' not in path.name)     # a second copy of 00:19.0
    cells = [cell.id for cell in caps.cells]
    specs = pci_spec.parse_device_specs(['{"vendor_id": "8086", "physical_network": "p1"}'])
    dedicated, shared = _every_other_cpu_dedicated(caps)
    for settings in (HostSettings(device_specs=specs),
                     HostSettings(dedicated_set=dedicated, shared_set=shared)):
        host = build_topology('h', caps, devices if max(cells) >= 1 else (), None, settings,
                              node_memory_kb=64 * 1024 * 1024)
        [parsed] = parse_fleet({'version': 1, 'hosts': [host.to_dict()]})
        assert parsed == host and isinstance(parsed, HostTopology)
