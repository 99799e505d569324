"""All configuration options of the scheduler service and the operator CLI.

oslo-config-generator reads ``kvmfleet.scheduler = scheduler.opts:list_opts`` (setup.cfg).
The options live beside the code that uses them; this module only gathers them, from a
fixed, explicit list of modules (tests/unit/test_config_samples.py fails when a module of
the package defines ``list_opts()`` and is missing here).
"""

from wire import opts as wire_opts

# Modules of this package that define options, in the order their groups should appear.
OPTION_MODULES = (
    'scheduler.cmd.service',
    'scheduler.manager',
    'scheduler.builds',
    'scheduler.move_endpoints',
    'scheduler.room_endpoints',
    'scheduler.engine.opts',
    'scheduler.warm_state',
    'scheduler.reconcile',
    'scheduler.reports',
    'scheduler.store.database',
    'scheduler.trust',
    'scheduler.metrics',
)


def list_opts():
    """Options of the scheduler package, one entry per group, for oslo-config-generator."""
    return wire_opts.gather(OPTION_MODULES)
