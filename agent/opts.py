"""All configuration options of the agent service.

oslo-config-generator reads ``kvmfleet.agent = agent.opts:list_opts`` (setup.cfg).
The options live beside the code that uses them; this module only gathers them, from a
fixed, explicit list of modules (tests/unit/test_config_samples.py fails when a module of
the package defines ``list_opts()`` and is missing here).
"""

from wire import opts as wire_opts

# Modules of this package that define options, in the order their groups should appear.
OPTION_MODULES = (
    'agent.cmd.run',
    'agent.manager',
    'agent.lifecycle',
    'agent.discovery.opts',
    'agent.driver_opts',
    'agent.network',
    'agent.simulated',
)


def list_opts():
    """Options of the agent package, one entry per group, for oslo-config-generator."""
    return wire_opts.gather(OPTION_MODULES)
