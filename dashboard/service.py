"""``kvmfleet-dashboard --config-file F``: the read-only web dashboard.

Serves dashboard.app over HTTP (the standard library's wsgiref, one thread per
request) on ``[dashboard] bind_host``:``port`` (127.0.0.1 by default: put a
TLS-terminating, authenticating proxy in front to show it further).  It reads the
scheduler only through its RPC API, as an operator's client; before each call it
checks that the broker answers at all (oslo.messaging would retry a down broker
forever), so a page says "unavailable" instead of hanging.
SIGTERM/SIGINT: clean stop.  Exit codes: 0 stopped, 1 cannot listen, 2 configuration.
"""

import logging
import socketserver
import sys
import threading
from wsgiref import simple_server

from oslo_config import cfg
from oslo_log import log as oslo_log

from dashboard.app import Dashboard
from dashboard.source import SchedulerSource
from wire import process, rpc, scheduler_rpcapi
from wire.version import version_line

LOG = logging.getLogger(__name__)

dashboard_opts = [
    cfg.HostAddressOpt('bind_host', default='127.0.0.1',
                       help='Address the dashboard listens on. It has no login of its '
                            'own: keep it on loopback, or behind a proxy that '
                            'authenticates.'),
    cfg.PortOpt('port', default=8780, help='TCP port of the dashboard.'),
    cfg.IntOpt('page_size', default=100, min=10, max=2000,
               help='Hosts per fleet page (and the most any page draws at once).'),
    cfg.FloatOpt('refresh_seconds', default=5.0, min=0.0,
                 help='How long the fleet (the scheduler\'s hosts answer) is reused '
                      'between page views before it is asked for again.'),
    cfg.FloatOpt('rpc_timeout', default=10.0, min=1.0,
                 help='Seconds a page waits for the scheduler\'s answer.'),
]
cfg.CONF.register_opts(dashboard_opts, group='dashboard')
try:
    oslo_log.register_options(cfg.CONF)
except cfg.ArgsAlreadyParsedError:
    pass


def list_opts():
    return [('dashboard', dashboard_opts)]


class GuardedAPI:
    """A SchedulerAPI whose calls fail at once (BrokerUnavailable) when the broker is down."""

    def __init__(self, api, addresses):
        self.api, self.addresses = api, addresses

    def __getattr__(self, name):
        method = getattr(self.api, name)

        def call(*args, **kwargs):
            if not rpc.broker_reachable(self.addresses, timeout=1.0):
                raise rpc.BrokerUnavailable('the message broker is not reachable')
            return method(*args, **kwargs)
        return call


class ThreadingWSGIServer(socketserver.ThreadingMixIn, simple_server.WSGIServer):
    daemon_threads = True


class LoggingHandler(simple_server.WSGIRequestHandler):
    """Requests go to the service log, not to stderr."""

    def log_message(self, format, *args):   # noqa: A002  (the base class's name)
        LOG.info('%s %s', self.address_string(), format % args)


def build_server(conf=cfg.CONF, api=None):
    """The HTTP server (bound, not serving) of the dashboard."""
    options = conf.dashboard
    if api is None:
        api = GuardedAPI(scheduler_rpcapi.SchedulerAPI(timeout=options.rpc_timeout),
                         rpc.broker_addresses())
    app = Dashboard(SchedulerSource(api, options.refresh_seconds), options.page_size)
    return simple_server.make_server(options.bind_host, options.port, app,
                                     server_class=ThreadingWSGIServer,
                                     handler_class=LoggingHandler)


def main(argv=None):
    """Entry point of ``kvmfleet-dashboard``."""
    conf = cfg.CONF
    try:
        conf(sys.argv[1:] if argv is None else argv, project='kvmfleet',
             prog='kvmfleet-dashboard', version=version_line('kvmfleet-dashboard'))
        for option in dashboard_opts:     # oslo.config checks a value when it is read
            getattr(conf.dashboard, option.dest)
    except (cfg.Error, ValueError) as exc:
        print(f"kvmfleet-dashboard: configuration: {exc}", file=sys.stderr)
        return 2
    oslo_log.setup(conf, 'kvmfleet-dashboard')
    service = process.ServiceProcess('kvmfleet-dashboard', conf)
    service.install_signals()
    service.start()
    try:
        server = build_server(conf)
    except (cfg.Error, OSError) as exc:
        LOG.error('kvmfleet-dashboard cannot start: %s', exc)
        print(f"kvmfleet-dashboard: {exc}", file=sys.stderr)
        return 1
    thread = threading.Thread(target=server.serve_forever, name='kvmfleet-dashboard-http',
                              daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    service.ready(f'serving http://{host}:{port}/')
    service.wait_for_stop()
    service.stopping()
    server.shutdown()
    server.server_close()
    rpc.reset_transports()
    return 0


if __name__ == '__main__':
    sys.exit(main())
