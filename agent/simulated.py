"""Many simulated hosts in one agent process (``kvmfleet-agent --simulate-fleet FLEET``).

Each host of the fleet file gets the real agent: its own AgentManager,
InstanceDriver and RPC server (server = host name).  Only two things differ
from a real host: discovery (the topology comes from the fleet file) and the
libvirt URI (a private libvirt ``test://`` driver connection per host, so
each host sees only its own domains).  Domain XML is the real builder's,
defined and started in the test driver.

The test driver knows nothing of hugepages and forgets everything when the
process exits, so ``SimulatedConnection`` answers free pages from the
fleet-file topology minus what its domains hold, and keeps each host's
domain XML on disk: a restarted simulated agent finds its domains again, as
a real agent finds libvirt's.
"""

import dataclasses
import json
import logging
import os

from oslo_config import cfg

from agent.domain import MetadataError, parse_metadata
from agent.driver import InstanceDriver
from agent.driver_opts import DriverConfig
from agent.libvirt_conn import LibvirtConnection
from agent.manager import AgentManager
from wire import agent_rpcapi, rpc
from wire.files import load_fleet

LOG = logging.getLogger(__name__)
SIMULATED_IMAGE = 'simulated'
TEST_NODE_XML = ("<node><cpu><mhz>2000</mhz><model>simulated</model></cpu>"
                 "<memory>1073741824</memory></node>\n")

simulated_opts = [
    cfg.StrOpt('simulation_path', default='/var/lib/kvmfleet/simulated',
               help='Directory of a simulated fleet: per-host instance directories and the '
                    'domain XML that outlives an agent restart.'),
]
cfg.CONF.register_opts(simulated_opts, group='agent')


def list_opts():
    return [('agent', simulated_opts)]


class SimulatedConnection(LibvirtConnection):
    """A private libvirt test-driver connection for one simulated host."""

    def __init__(self, uri, topology, domains_dir):
        super().__init__(uri)
        self.topology = topology
        self.domains_dir = domains_dir
        os.makedirs(domains_dir, exist_ok=True)
        self._held = {}      # domain name -> Assignment (for free pages)

    def restore(self):
        """Define (and start) the domains this host had before the agent restarted."""
        for entry in sorted(os.listdir(self.domains_dir)):
            if not entry.endswith('.xml'):
                continue
            name = entry[:-4]
            with open(os.path.join(self.domains_dir, entry), encoding='utf-8') as handle:
                super().define_domain(handle.read())
            self._remember(name, super().domain_xml(name))
            if os.path.exists(self._running_marker(name)):
                super().start_domain(name)

    def _path(self, name):
        return os.path.join(self.domains_dir, f"{name}.xml")

    def _running_marker(self, name):
        return os.path.join(self.domains_dir, f"{name}.running")

    def _remember(self, name, xml):
        try:
            self._held[name] = parse_metadata(xml)[2]
        except (MetadataError, ValueError):
            self._held.pop(name, None)

    def define_domain(self, xml):
        uuid = super().define_domain(xml)
        name = _domain_name(xml)
        with open(self._path(name), 'w', encoding='utf-8') as handle:
            handle.write(xml)
        self._remember(name, xml)
        return uuid

    def start_domain(self, name):
        super().start_domain(name)
        open(self._running_marker(name), 'w').close()

    def destroy_domain(self, name):
        super().destroy_domain(name)
        _unlink(self._running_marker(name))

    def undefine_domain(self, name):
        super().undefine_domain(name)
        self._held.pop(name, None)
        _unlink(self._path(name))
        _unlink(self._running_marker(name))

    def free_pages(self, cells, sizes_kb):
        """Pools of the fleet-file cells minus the pages this host's domains hold."""
        result = {}
        for cell_id in cells:
            cell = self.topology.cell(cell_id)
            free = {size: cell.pages.get(size, 0) for size in sizes_kb}
            for assignment in self._held.values():
                for placed in assignment.cells:
                    if placed.host_cell == cell_id and placed.page_size_kb in free:
                        free[placed.page_size_kb] -= placed.memory_mb * 1024 // \
                            placed.page_size_kb
            result[cell_id] = free
        return result

    def hostname(self):
        return self.topology.name


def _domain_name(xml):
    start = xml.index('<name>') + len('<name>')
    return xml[start:xml.index('</name>', start)]


def _unlink(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def prepare_simulation(path):
    """The simulation directory with the test-driver node file and a fake boot image."""
    os.makedirs(os.path.join(path, 'images', SIMULATED_IMAGE), exist_ok=True)
    node = os.path.join(path, 'test-node.xml')
    with open(node, 'w', encoding='utf-8') as handle:
        handle.write(TEST_NODE_XML)
    image_dir = os.path.join(path, 'images', SIMULATED_IMAGE)
    kernel = os.path.join(image_dir, 'vmlinuz')
    open(kernel, 'a').close()
    with open(os.path.join(image_dir, 'image.json'), 'w', encoding='utf-8') as handle:
        json.dump({'name': SIMULATED_IMAGE, 'kernel': kernel, 'cmdline': 'console=ttyS0'},
                  handle)
    return node


def simulated_host(topology, path, node_xml, scheduler_api, launch_timeout=5.0):
    """AgentManager of one simulated host (the real manager, driver and builder)."""
    topology = dataclasses.replace(topology, instances=())
    host_dir = os.path.join(path, 'hosts', topology.name)
    conn = SimulatedConnection(f"test://{node_xml}", topology, os.path.join(host_dir, 'domains'))
    conn.restore()
    config = DriverConfig(instances_path=os.path.join(host_dir, 'instances'),
                          images_path=os.path.join(path, 'images'), virt_type='kvm',
                          launch_timeout=launch_timeout)
    driver = InstanceDriver(conn, topology, config, vhost_net=False)
    return AgentManager(topology.name, driver, lambda: topology, scheduler_api,
                        default_image=SIMULATED_IMAGE)


def build_fleet(fleet_path, scheduler_api, path=None, url=None):
    """Managers and (not started) RPC servers for every host of ``fleet_path``."""
    path = path or cfg.CONF.agent.simulation_path
    node_xml = prepare_simulation(path)
    managers, servers = [], []
    for topology in load_fleet(fleet_path):
        if topology.instances:
            LOG.info('Host %s: the fleet file\'s running instances are not simulated',
                     topology.name)
        manager = simulated_host(topology, path, node_xml, scheduler_api)
        managers.append(manager)
        servers.append(rpc.get_rpc_server(agent_rpcapi.TOPIC, topology.name, [manager],
                                          url=url))
    return managers, servers
