"""All configuration options of the dashboard, for oslo-config-generator.

``kvmfleet.dashboard = dashboard.opts:list_opts`` (setup.cfg); the transport options
come from ``kvmfleet.wire`` (etc/kvmfleet/dashboard-config-generator.conf).
"""

from wire import opts as wire_opts

OPTION_MODULES = ('dashboard.service',)


def list_opts():
    """Options of the dashboard package, one entry per group."""
    return wire_opts.gather(OPTION_MODULES)
