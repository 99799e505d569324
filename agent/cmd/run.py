"""``kvmfleet-agent [--simulate-fleet FLEET]``: run the agent service.

Waits (bounded, logged) for the broker, discovers the host (or loads the
simulated fleet), reconciles libvirt with the instance directories, serves
the agent RPC API per host and reports each host periodically and on change.
SIGTERM or SIGINT stops it cleanly: reporters first, then every RPC server.
SIGHUP reopens the logs and reloads the mutable options (the log level);
SIGUSR2 writes a Guru Meditation Report (wire/process.py).
"""

import logging
import sys
import threading

from oslo_config import cfg
from oslo_log import log as oslo_log

from agent import driver_opts, lifecycle, simulated, trust
from agent import metrics as agent_metrics
from agent.discovery import opts as discovery_opts
from agent.discovery import shaping
from agent.discovery.host import discover
from agent.driver import InstanceDriver
from agent.driver_features import host_features
from agent.exceptions import AgentError
from agent.libvirt_conn import LibvirtConnection, start_event_loop
from agent.manager import AgentManager, Reporter
from agent.updates import BatchingSchedulerAPI
from wire import agent_rpcapi, names, notifications, process, rpc, scheduler_rpcapi
from wire import metrics as wire_metrics

LOG = logging.getLogger(__name__)

run_opts = [
    cfg.StrOpt('host',
               help='Name this agent reports its host under (default: libvirt\'s host name). '
                    'The scheduler sends this host\'s work to topic kvmfleet-agent.<host>.'),
]
cfg.CONF.register_opts(run_opts, group='agent')
try:
    oslo_log.register_options(cfg.CONF)   # --log-file & co. must exist before parsing
except cfg.ArgsAlreadyParsedError:
    pass


def list_opts():
    return [('agent', run_opts)]


def add_arguments(parser):
    parser.add_argument('--simulate-fleet', metavar='FLEET',
                        help='serve every host of this fleet file from one process, each '
                             'on libvirt\'s test driver (for scale tests)')
    # Declared here so argparse does not take their values for a subcommand;
    # config_args() hands them back to oslo.config.
    parser.add_argument('--config-file', action='append', default=[], metavar='PATH',
                        help='oslo.config file (repeatable)')
    parser.add_argument('--config-dir', action='append', default=[], metavar='DIR',
                        help='oslo.config directory of *.conf files (repeatable)')


def config_args(args):
    """The oslo.config arguments argparse consumed, in oslo's form."""
    result = []
    for path in args.config_file:
        result += ['--config-file', path]
    for path in args.config_dir:
        result += ['--config-dir', path]
    return result


class DiscoveredHost:
    """The real host's topology: discovered at start, refreshed before each report."""

    def __init__(self, conn, settings, host_name):
        self.conn = conn
        self.settings = settings
        self.host_name = host_name
        self.vif_shaping = shaping.probe_for(conn)     # once: the kernel does not change
        self.found = discover(conn, settings, host_name, self.vif_shaping)

    def __call__(self):
        return self.found.topology

    def refresh(self):
        try:
            self.found = discover(self.conn, self.settings, self.host_name, self.vif_shaping)
        except AgentError as exc:
            LOG.warning('Rediscovery failed, reporting the last topology: %s', exc)


def real_host(conf, scheduler_api, notifier=None):
    """The AgentManager of this machine (libvirt URI from [libvirt] connection_uri)."""
    start_event_loop()     # before the connection opens: events, keepalive, close callback
    conn = LibvirtConnection(conf.libvirt.connection_uri)
    host = DiscoveredHost(conn, discovery_opts.settings_from_conf(conf), conf.agent.host)
    config = driver_opts.config_from_conf(conf, detected_virt_type=host.found.virt_type)
    features = host_features(host.found.domain_capabilities)
    driver = InstanceDriver(conn, host, config, host_features=features)
    # The name becomes the routing key kvmfleet-agent.<host>: refuse a bad one at start,
    # rather than have every report refused by the scheduler.
    name = names.host_name(host().name, '[agent] host (or libvirt\'s host name)')
    return AgentManager(name, driver, host, scheduler_api,
                        default_image=conf.agent.default_image, notifier=notifier), name


def watch(manager, conf):
    """The LifecycleWatcher of a real host, its callbacks registered (not started)."""
    watcher = lifecycle.LifecycleWatcher(manager, lifecycle.settings_from_conf(conf))
    watcher.attach()
    return watcher


def serve(managers, servers, service, watchers=()):
    """Start servers, reconcile + report each host, report until ``service.stop_event``."""
    for server in servers:
        server.start()
    for manager in managers:
        manager.startup()
    for watcher in watchers:
        watcher.start()
    reporter = Reporter(managers)
    reporter.start()
    service.ready(f'serving {len(managers)} host(s)')
    service.wait_for_stop()
    LOG.info('Stopping: %d RPC server(s)', len(servers))
    service.stopping()
    reporter.stop()
    for watcher in watchers:
        watcher.stop()
    stop_servers(servers)
    reporter.join(5)


def stop_servers(servers):
    """Stop RPC servers in parallel (each takes about a second to drain)."""
    def halt(server):
        server.stop()
        server.wait()
    threads = [threading.Thread(target=halt, args=(s,), daemon=True) for s in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)


def start_metrics(managers, servers, conf):
    """(metrics, started exporter or None) of ``[metrics]``; OSError if the port is taken."""
    metrics = agent_metrics.from_conf(conf)
    exporter = wire_metrics.start_exporter('agent', metrics.registry, conf)
    if exporter is not None:
        metrics.watch(managers)
        rpc.observe(servers, metrics.rpc_observer)
    return metrics, exporter


def run(args, conf=cfg.CONF):
    """The agent service; returns the exit status."""
    oslo_log.setup(conf, 'kvmfleet-agent')
    service = process.ServiceProcess('kvmfleet-agent', conf)
    service.install_signals()
    service.start()
    watchers = []
    # [oslo_messaging_notifications]: off unless a driver is set (wire/notifications.py)
    notifier = notifications.from_conf(conf, notifications.AGENT)
    try:
        rpc.wait_for_broker()
        client = scheduler_rpcapi.SchedulerAPI()    # a bad [upgrade_levels] fails first
        client.signer, verifier = trust.signer_from_conf(conf), trust.verifier_from_conf(conf)
        # results and reports leave in order, results batched (agent/updates.py)
        scheduler_api = BatchingSchedulerAPI(client)
        if args.simulate_fleet:
            managers, servers = simulated.build_fleet(args.simulate_fleet, scheduler_api,
                                                      notifier=notifier)
        else:
            manager, name = real_host(conf, scheduler_api, notifier)
            watchers.append(watch(manager, conf))
            managers = [manager]
            servers = [rpc.get_rpc_server(agent_rpcapi.TOPIC, name, [manager])]
        trust.guard(managers, verifier)
        metrics, exporter = start_metrics(managers, servers, conf)
    except (rpc.BrokerUnavailable, AgentError, OSError, ValueError) as exc:
        LOG.error('kvmfleet-agent cannot start: %s', exc)
        print(f"kvmfleet-agent: {exc}", file=sys.stderr)
        return 1
    serve(managers, servers, service, watchers)
    if exporter is not None:
        exporter.stop()
    metrics.unwatch()
    scheduler_api.close()
    notifier.close()
    rpc.reset_transports()
    return 0
