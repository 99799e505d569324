"""``kvmfleet-scheduler --config-file F``: the scheduler service.

Waits (bounded, logged) for the broker, opens the store (its schema must be
this release's: ``kvmfleet-manage db sync`` migrates it, or [database]
sync_on_startup), loads the warm view from it, serves topic ``kvmfleet-scheduler``
and marks hosts down when their reports stop.  SIGTERM/SIGINT: clean stop;
SIGHUP: logs reopened, mutable options (log level, weigher multipliers)
reloaded; SIGUSR2: Guru Meditation Report (wire/process.py).
Exit codes: 0 stopped cleanly; 1 cannot start (broker, database, files); 2
configuration error; 3 the database is empty, older or newer than this release
(the message names the ``kvmfleet-manage db sync`` to run).
"""

import gc
import logging
import socket
import sys
import threading

from oslo_config import cfg
from oslo_db import exception as db_exc
from oslo_log import log as oslo_log
from sqlalchemy.exc import SQLAlchemyError

from scheduler import builds, trust
from scheduler import metrics as scheduler_metrics
from scheduler.engine import build_engine
from scheduler.engine.opts import settings_from_conf, weigher_multipliers
from scheduler.filters.nova_names import FilterNameError
from scheduler.manager import SchedulerManager
from scheduler.specs.flavors import load_flavors
from scheduler.store import Store, schema
from scheduler.store.database import database_settings, default_connection, sqlite_file_missing
from wire import agent_rpcapi, keys, limits, notifications, process, rpc, scheduler_rpcapi
from wire import metrics as wire_metrics
from wire.files import FileFormatError
from wire.version import version_line

LOG = logging.getLogger(__name__)
PROJECT = 'kvmfleet'
EXIT_SCHEMA = 3     # the database is empty, older or newer than this release

service_opts = [
    cfg.StrOpt('flavors_file', default='/etc/kvmfleet/flavors.yaml',
               help='Flavors and PCI aliases (see docs/flavors.md); requests may name a '
                    'flavor. A missing file means no flavors.'),
    cfg.StrOpt('host',
               help='Name of this scheduler on the bus: besides the shared topic '
                    'kvmfleet-scheduler it serves kvmfleet-scheduler.<host>, so one scheduler '
                    'can be asked on its own (e.g. its view of the hosts). Default: the '
                    'machine\'s host name; several schedulers on one machine each need '
                    'their own.'),
]
cfg.CONF.register_opts(service_opts, group='scheduler')
try:
    oslo_log.register_options(cfg.CONF)
except cfg.ArgsAlreadyParsedError:
    pass


def list_opts():
    return [('scheduler', service_opts)]


def load_catalog(path, bounds=limits.DEFAULT):
    """(flavors, aliases) from the flavors file; empty when the file does not exist."""
    try:
        catalog = load_flavors(path, bounds)
    except FileFormatError as exc:
        if 'cannot read' in str(exc):
            LOG.warning('No flavors: %s', exc)
            return {}, {}
        raise
    return catalog.flavors, catalog.aliases


def build_manager(conf=cfg.CONF, store_url=None):
    """The SchedulerManager wired to the store, engine, agents and notifier."""
    agents = agent_rpcapi.AgentAPI()    # first: a bad [upgrade_levels] agent creates nothing
    agents.signer = trust.signer_from_conf(conf)    # nor does a missing key
    verifier = trust.verifier_from_conf(conf)
    engine = build_engine(settings_from_conf(conf))    # and a bad filter name neither
    bounds = limits.from_conf(conf)
    flavors, aliases = load_catalog(conf.scheduler.flavors_file, bounds)
    metrics = scheduler_metrics.from_conf(conf)
    store = metrics.timed_store(open_store(conf, store_url))
    # [oslo_messaging_notifications]: off unless a driver is set (wire/notifications.py)
    notifier = notifications.from_conf(conf, notifications.publisher_id(
        notifications.SCHEDULER, socket.gethostname()))
    manager = SchedulerManager(store, engine, agents, notifier=notifier,
                               flavors=flavors, aliases=aliases, limits=bounds)
    manager.verifier = verifier
    manager.metrics = metrics
    metrics.watch(manager, scheduler_metrics.gauge_settings_from_conf(conf))
    manager.crash_after_claim = conf.scheduler.test_crash_after_claim
    return manager


def sync_command(conf=cfg.CONF):
    """The ``kvmfleet-manage ... db sync`` that migrates the database conf names."""
    files = ''.join(f' --config-file {path}' for path in conf.config_file or ())
    return f"kvmfleet-manage{files} db sync"


def open_store(conf=cfg.CONF, store_url=None):
    """The store, at this release's schema or refused (schema.SchemaError)."""
    url = store_url or default_connection(conf)
    if sqlite_file_missing(url) and not conf.database.sync_on_startup:
        # Refused without creating the file: nothing is left behind.
        raise schema.SchemaError(f"the database {url} does not exist: run "
                                 f"`{sync_command(conf)}` (or set [database] "
                                 f"sync_on_startup = true)")
    store = Store(url, settings=database_settings(conf))
    try:
        if conf.database.sync_on_startup:
            before, after = schema.sync(store.engine)
            LOG.info('Database schema: %s, now revision %s', before.describe(), after)
        else:
            store.check_schema(sync_command(conf))
    except BaseException:
        store.dispose()
        raise
    return store


def watch_hosts(manager, stop_event, period):
    while not stop_event.wait(period):
        try:
            manager.check_hosts()
        except Exception:
            LOG.exception('Host liveness check failed')
        recast_builds(manager, builds.PENDING_AGE_S)   # another scheduler's, dead


def recast_builds(manager, min_age_s=0.0):
    """Builds claimed and never cast go out now (scheduler/builds.py)."""
    try:
        manager.recast_pending(min_age_s)
    except Exception:
        LOG.exception('Casting the builds never cast failed')


def clear_cast_marks(manager, stop_event=None):
    """The marks of the builds cast, cleared in one commit every
    builds.FLUSH_INTERVAL_S until ``stop_event`` (once without one)."""
    while True:
        try:
            manager.cast_marks.flush()
        except Exception:   # kept for the next flush; at worst those builds go twice
            LOG.exception('Clearing the marks of the builds cast failed')
        if stop_event is None or stop_event.wait(builds.FLUSH_INTERVAL_S):
            return


def reload_engine(manager, conf=cfg.CONF):
    """The reload hook: the engine takes the (mutable) weigher multipliers anew."""
    def hook(changed):
        multipliers = weigher_multipliers(conf)
        if multipliers != manager.engine.settings.weigher_multipliers:
            manager.engine.set_weigher_multipliers(multipliers)
            LOG.info('Weigher multipliers now %s', multipliers)
    return hook


def ask_agents_to_report(manager):
    """Cold start: every agent reports now (fanout), not at its next interval."""
    try:
        manager.agents.report_now()
    except Exception:   # the view then fills at the agents' report interval
        LOG.exception('Asking the agents to report failed')


def serve(manager, service, server_name=None, exporter=None):
    """Serve until ``service.stop_event``; returns after a clean stop."""
    stop_event = service.stop_event
    server = rpc.get_rpc_server(scheduler_rpcapi.TOPIC,
                                server_name or cfg.CONF.scheduler.host or socket.gethostname(),
                                [manager])
    if exporter is not None:
        rpc.observe([server], manager.metrics.rpc_observer)
    server.start()
    ask_agents_to_report(manager)
    recast_builds(manager)        # those this scheduler's previous life claimed
    period = max(1.0, cfg.CONF.service_down_time / 6)
    watcher = threading.Thread(target=watch_hosts, args=(manager, stop_event, period),
                               name='kvmfleet-host-watch', daemon=True)
    watcher.start()
    marks = threading.Thread(target=clear_cast_marks, args=(manager, stop_event),
                             name='kvmfleet-cast-marks', daemon=True)
    marks.start()
    service.ready(f'serving {scheduler_rpcapi.TOPIC} with {len(manager.state.fleet)} '
                  'known hosts')
    service.wait_for_stop()
    LOG.info('Stopping the scheduler')
    service.stopping()
    server.stop()
    server.wait()
    watcher.join(5)
    marks.join(5)
    clear_cast_marks(manager)      # those of the last boots served
    manager.notifier.close()
    if exporter is not None:
        exporter.stop()
    manager.store.dispose()


def main(argv=None):
    """Entry point of ``kvmfleet-scheduler``."""
    conf = cfg.CONF
    try:
        conf(sys.argv[1:] if argv is None else argv, project=PROJECT,
             prog='kvmfleet-scheduler', version=version_line('kvmfleet-scheduler'))
    except (cfg.Error, ValueError) as exc:
        print(f"kvmfleet-scheduler: configuration: {exc}", file=sys.stderr)
        return 2
    oslo_log.setup(conf, 'kvmfleet-scheduler')
    service = process.ServiceProcess('kvmfleet-scheduler', conf)
    service.install_signals()
    service.start()
    try:
        rpc.wait_for_broker()
        manager = build_manager(conf)
        exporter = wire_metrics.start_exporter('scheduler', manager.metrics.registry, conf)
    except (cfg.Error, FilterNameError) as exc:   # e.g. [upgrade_levels], found when used
        print(f"kvmfleet-scheduler: configuration: {exc}", file=sys.stderr)
        return 2
    except (rpc.BrokerUnavailable, FileFormatError, OSError, RuntimeError,
            SQLAlchemyError, db_exc.DBError, keys.KeyFileError) as exc:
        LOG.error('kvmfleet-scheduler cannot start: %s', exc)
        print(f"kvmfleet-scheduler: {exc}", file=sys.stderr)
        return EXIT_SCHEMA if isinstance(exc, schema.SchemaError) else 1
    # The warm view is long-lived: keep the cyclic GC from rescanning it (see
    # docs/benchmarks.md, Placement).
    gc.collect()
    gc.freeze()
    service.on_reload(reload_engine(manager, conf))
    serve(manager, service, exporter=exporter)
    rpc.reset_transports()
    return 0


if __name__ == '__main__':
    sys.exit(main())
