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

import collections
import dataclasses
import json
import logging
import os
import threading
import uuid as uuid_lib
import weakref

from oslo_config import cfg
from oslo_messaging.rpc.server import RPCServer

from agent.domain import MetadataError, parse_metadata
from agent.domain.migration import defined_pins
from agent.driver import InstanceDriver
from agent.driver_opts import DriverConfig
from agent.exceptions import LibvirtError
from agent.libvirt_conn import LibvirtConnection
from agent.manager import AgentManager
from agent.network import HostNetworks, TraitBridges
from agent.verify import pages_left
from wire import agent_rpcapi, rpc, signing
from wire.errors import shown
from wire.files import load_fleet
from wire.paths import state_path_def

LOG = logging.getLogger(__name__)
SIMULATED_IMAGE = 'simulated'
SIMULATED_SCHEME = 'simulated://'
TEST_NODE_XML = ("<node><cpu><mhz>2000</mhz><model>simulated</model></cpu>"
                 "<memory>1073741824</memory></node>\n")

simulated_opts = [
    cfg.StrOpt('simulation_path', default=state_path_def('simulated'),
               help='Directory of a simulated fleet: per-host instance directories and the '
                    'domain XML that outlives an agent restart.'),
    cfg.IntOpt('simulated_hosts_per_connection', default=100, min=1,
               help='Simulated hosts whose queues share one broker connection.'),
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
        # where other simulated hosts of this process migrate to (migration_uri)
        self.address = f"{SIMULATED_SCHEME}{topology.name}/{uuid_lib.uuid4().hex[:12]}"
        _SIMULATED_HOSTS[self.address] = self

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
        pools = {cell_id: {size: self.topology.cell(cell_id).pages.get(size, 0)
                           for size in sizes_kb} for cell_id in cells}
        return pages_left(pools, self._held.values())

    def default_migration_uri(self):
        return self.address

    # libvirt's test driver cannot hot-plug a host device (an SR-IOV direct port):
    # a simulated host has no VFs to move, so unplugging and plugging one around a
    # migration changes nothing (the VFs held are in the domain's assignment metadata).
    def attach_device(self, name, device_xml):
        self._known_domain(name, 'attach device to')

    def detach_device(self, name, device_xml):
        self._known_domain(name, 'detach device from')

    def _known_domain(self, name, what):
        if self.domain_state(name) is None:     # as libvirt: no such domain
            raise LibvirtError(f"{what} {name}", 'domain not found')

    # The test driver's node has none of the fleet file's CPUs: pins come from the XML.
    def vcpu_pin_info(self, name):
        return defined_pins(self.domain_xml(name))[0]

    def emulator_pin_info(self, name):
        return defined_pins(self.domain_xml(name))[1]

    def migrate(self, name, dest_uri, dest_xml, live=True, data_uri=None, copy_storage=False,
                timeout=None, bandwidth_mib=None, keep_source=False):
        """Hand the domain over to the simulated host at ``dest_uri`` (same process).

        Like libvirt's peer-to-peer migration with PERSIST_DEST and
        UNDEFINE_SOURCE: defined (and, live, started) there with ``dest_xml``,
        then removed here (``keep_source``, offline: kept); any failure leaves it
        here as it was.  Only the copy of the guest's memory is missing.
        """
        operation = f"migrate {name} to {dest_uri}"
        dest = _SIMULATED_HOSTS.get(dest_uri)
        if dest is None or dest is self:
            raise LibvirtError(operation, 'no other simulated host at this URI')
        state = self.domain_state(name)
        if state is None or (state == 'running') != live:
            raise LibvirtError(operation, f"domain is {state or 'not defined'}: a "
                                          f"{'live' if live else 'offline'} migration "
                                          'cannot move it')
        if _domain_name(dest_xml) != name:
            raise LibvirtError(operation, f"destination XML names {_domain_name(dest_xml)!r}")
        if dest.domain_state(name) is not None:
            raise LibvirtError(operation, 'the domain already exists on the destination')
        dest.define_domain(dest_xml)
        if live:
            try:
                dest.start_domain(name)
            except LibvirtError:
                dest.undefine_domain(name)
                raise
        if keep_source and not live:
            return
        self.destroy_domain(name)
        self.undefine_domain(name)

    def hostname(self):
        return self.topology.name


_SIMULATED_HOSTS = weakref.WeakValueDictionary()    # address -> SimulatedConnection


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


def simulated_host(topology, path, node_xml, scheduler_api, launch_timeout=5.0, notifier=None):
    """AgentManager of one simulated host (the real manager, driver and builder)."""
    topology = dataclasses.replace(topology, instances=())
    host_dir = os.path.join(path, 'hosts', topology.name)
    conn = SimulatedConnection(f"test://{node_xml}", topology, os.path.join(host_dir, 'domains'))
    conn.restore()
    config = DriverConfig(instances_path=os.path.join(host_dir, 'instances'),
                          images_path=os.path.join(path, 'images'), virt_type='kvm',
                          launch_timeout=launch_timeout,
                          networks=HostNetworks(TraitBridges(topology.traits)))
    driver = InstanceDriver(conn, topology, config, vhost_net=False)
    return AgentManager(topology.name, driver, lambda: topology, scheduler_api,
                        default_image=SIMULATED_IMAGE, notifier=notifier)


# Fanout methods (no host in the context), and what each does for every other host
TO_EVERY_HOST = {'report_now': 'report_soon'}


class FanoutsSeen:
    """The signed fanouts one process has already verified, shared by its routers.

    Each RPC server of a simulated fleet receives its own copy of a fanout, with
    the same nonce: the first copy is verified, an identical later copy is not
    verified again (the replay guard would refuse it) but known, and obeyed.
    """

    def __init__(self, capacity=256):
        self.lock = threading.Lock()
        self.capacity = capacity
        self.seen = collections.OrderedDict()

    def obey(self, ctxt, verify):
        """``verify()`` unless this very envelope passed before; remembered afterwards."""
        key = json.dumps((ctxt or {}).get(signing.ENVELOPE_KEY), sort_keys=True)
        with self.lock:
            if key in self.seen:
                return None
            answer = verify()
            self.seen[key] = True
            while len(self.seen) > self.capacity:
                self.seen.popitem(last=False)
            return answer


class HostRouter:
    """One endpoint for many hosts: each message goes to the manager its context names."""

    target = AgentManager.target     # the version the real endpoints serve
    exposed_type = AgentManager      # the methods it routes (wire.rpc.exposed_methods)

    def __init__(self, managers, fanouts=None):
        self.managers = {manager.host_name: manager for manager in managers}
        self.fanouts = fanouts or FanoutsSeen()

    def __getattr__(self, method):
        if method.startswith('_'):
            raise AttributeError(method)
        sample = getattr(next(iter(self.managers.values())), method)
        if not getattr(sample, 'exposed', False):
            raise AttributeError(method)

        def route(ctxt, **kwargs):
            host = (ctxt or {}).get('host')
            if host is None and method in TO_EVERY_HOST:
                return self._every_host(method, ctxt, kwargs)
            manager = self.managers.get(host) if isinstance(host, str) else None
            if manager is None:
                rpc.refuse(method, rpc.BusError(rpc.NOT_FOUND,
                                                f"no simulated host {shown(host)} here"))
            return getattr(manager, method)(ctxt, **kwargs)
        route.exposed = True
        route.__wrapped__ = sample     # the dispatcher checks arguments against its signature
        return route


    def _every_host(self, method, ctxt, kwargs):
        """A fanout: checked (signature, replay) once, by the first host, then done for all."""
        first = next(iter(self.managers.values()))
        answer = self.fanouts.obey(ctxt, lambda: getattr(first, method)(ctxt, **kwargs))
        for manager in self.managers.values():
            getattr(manager, TO_EVERY_HOST[method])()
        return answer


class MultiHostServer(RPCServer):
    """One RPC server (one broker connection) consuming the queues of many hosts.

    A broker allows a limited number of connections (RabbitMQ's default file
    descriptor limit is ~1000), so 1,000 simulated hosts share a few
    connections: the listener of this server also consumes the
    ``kvmfleet-agent.<host>`` queue of every host in ``extra_hosts``.
    """

    extra_hosts = ()

    def _create_listener(self):
        adapter = super()._create_listener()
        if not self.extra_hosts:
            return adapter
        # Driver internals (rabbit / kombu drivers): the poll-style listener
        # owns the connection its consumers are declared on.
        try:
            listener = adapter._poll_style_listener
            exchange = listener.driver._get_exchange(self._target)
        except AttributeError as exc:
            raise RuntimeError('this oslo.messaging driver cannot share a connection between '
                               'hosts: set [agent] simulated_hosts_per_connection = 1 '
                               f"({exc})")
        for host in self.extra_hosts:
            listener.conn.declare_topic_consumer(
                exchange_name=exchange, topic=f"{self._target.topic}.{host}", callback=listener)
        return adapter


def group_server(managers, url=None, fanouts=None):
    """A MultiHostServer (not started) for ``managers``."""
    names = [manager.host_name for manager in managers]
    server = rpc.get_rpc_server(agent_rpcapi.TOPIC, names[0], [HostRouter(managers, fanouts)],
                               url=url, server_cls=MultiHostServer)
    server.extra_hosts = tuple(names[1:])
    return server


def build_fleet(fleet_path, scheduler_api, path=None, url=None, hosts_per_connection=None,
                notifier=None):
    """Managers and (not started) RPC servers for every host of ``fleet_path``
    (``notifier``: a wire.notifications.Notifier all hosts share, each as its publisher)."""
    path = path or cfg.CONF.agent.simulation_path
    per_connection = hosts_per_connection or cfg.CONF.agent.simulated_hosts_per_connection
    node_xml = prepare_simulation(path)
    managers = []
    for topology in load_fleet(fleet_path):
        if topology.instances:
            LOG.info('Host %s: the fleet file\'s running instances are not simulated',
                     topology.name)
        managers.append(simulated_host(topology, path, node_xml, scheduler_api,
                                       notifier=notifier))
    fanouts = FanoutsSeen()
    servers = [group_server(managers[i:i + per_connection], url, fanouts)
               for i in range(0, len(managers), per_connection)]
    return managers, servers
