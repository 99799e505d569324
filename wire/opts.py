"""Configuration options of the shared wire package, and the merge helper of all aggregators.

oslo-config-generator reads ``kvmfleet.wire = wire.opts:list_opts`` (setup.cfg).  Each
module that defines options exposes its own ``list_opts()`` beside them; this module
imports a fixed, explicit list of those modules (no discovery by walking the package, so
a typo or a broken import fails loudly instead of silently dropping options).
"""

import collections
import importlib

# Modules of this package that define options, in the order their groups should appear.
OPTION_MODULES = (
    'wire.paths',
    'wire.rpc',
    'wire.ratelimit',
    'wire.arguments',
    'wire.upgrade_levels',
    'wire.limits',
    'wire.signing',
    'wire.metrics',
)

DEFAULT_GROUP = 'DEFAULT'


class DuplicateOptionError(ValueError):
    """Two modules define different options under the same group and name."""


def _group_name(group):
    """The group's name whether the module gave a string, an OptGroup or None."""
    if group is None:
        return DEFAULT_GROUP
    return getattr(group, 'name', group)


def _add_option(options_by_name, group_name, option):
    known = options_by_name.get(option.dest)
    if known is None:
        options_by_name[option.dest] = option
    elif known != option:
        raise DuplicateOptionError(
            f"[{group_name}] {option.dest}: defined twice with different settings")


def merge_opts(listings):
    """Merge several ``[(group, [opts])]`` listings into one, a single entry per group.

    Options of the same group from different modules end in one list; the same option
    object listed twice is kept once; two different options with one name are an error.
    An OptGroup object (with its help text) wins over a bare group name.
    """
    groups = {}
    options = collections.OrderedDict()
    for listing in listings:
        for group, group_options in listing:
            name = _group_name(group)
            if isinstance(groups.get(name, name), str) and name != DEFAULT_GROUP:
                groups[name] = group
            groups.setdefault(name, name)
            options_by_name = options.setdefault(name, collections.OrderedDict())
            for option in group_options:
                _add_option(options_by_name, name, option)
    return [(groups[name], list(by_name.values())) for name, by_name in options.items()]


def register_groups(conf, groups):
    """Register ``((group name, [options]), ...)`` on ``conf``; 'DEFAULT' is the unnamed group."""
    for group, options in groups:
        conf.register_opts(options, group=None if group == DEFAULT_GROUP else group)


def listing(groups):
    """``groups`` as a ``list_opts()`` answer: [(group name, [options])]."""
    return [(group, list(options)) for group, options in groups]


def gather(module_names):
    """Import each named module and merge what its ``list_opts()`` returns."""
    listings = [importlib.import_module(name).list_opts() for name in module_names]
    return merge_opts(listings)


def list_opts():
    """Options of the wire package, for oslo-config-generator."""
    return gather(OPTION_MODULES)
