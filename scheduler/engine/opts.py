"""Configuration of the placement engine (oslo.config), Nova's names where Nova has one.

``[filter_scheduler]`` holds the pipeline (filters, weighers and their
multipliers, subset size, alternates, how many hosts get an exact fit);
``[DEFAULT]`` holds the allocation ratios, as in Nova.
"""

from importlib import metadata

from oslo_config import cfg

from scheduler.engine import DEFAULT_FILTERS, DEFAULT_MULTIPLIERS, FILTER_GROUP, EngineSettings
from scheduler.filters.nova_names import resolve_filter_names
from scheduler.fitting.policy import LARGE_PAGE_ORDERS

GROUP = 'filter_scheduler'

filter_scheduler_opts = [
    cfg.ListOpt('enabled_filters', default=list(DEFAULT_FILTERS),
                help='Host filters, by entry point name (kvmfleet.scheduler.filters). '
                     'The engine runs them cheapest first whatever the order here. Nova '
                     'names with the same meaning are accepted (ComputeFilter, RamFilter, '
                     'CoreFilter, NUMATopologyFilter, PciPassthroughFilter, '
                     'AggregateInstanceExtraSpecsFilter, ServerGroupAffinityFilter, '
                     'ServerGroupAntiAffinityFilter); other Nova filters are refused.'),
    cfg.IntOpt('host_subset_size', default=1, min=1,
               help='Pick the host at random among this many best-weighed hosts '
                    '(1: always the best).'),
    cfg.BoolOpt('shuffle_best_same_weighed_hosts', default=True,
                help='Take hosts of equal weight in random order, as Nova\'s option of this '
                     'name does (Nova\'s default is false). On by default here: with it off '
                     'every scheduler sharing a store picks the same host among equals (the '
                     'first by name) and the later of two concurrent claims conflicts and is '
                     'refitted; benchmarks/bench_bus.py --schedulers 2 measures the '
                     'difference. Off: the same request on the same fleet always lands on '
                     'the same host.'),
    cfg.IntOpt('max_alternates', default=2, min=0,
               help='Next-best hosts kept per instance for reschedules.'),
    cfg.StrOpt('large_page_order', default='largest', choices=LARGE_PAGE_ORDERS,
               help='Which hugepage size guests with hw:mem_page_size=large or any try '
                    'first: largest (Nova), smallest, or most_free (the size with the most '
                    'free memory in the host cell, keeping the scarcer pool for guests that '
                    'ask for one size). benchmarks/bench_packing.py compares them: on its '
                    'hugepage-heavy mix largest placed the most VMs.'),
    cfg.IntOpt('fit_candidates', default=8, min=1,
               help='Hosts that get an exact fit per instance, best cheap estimate first; '
                    'the weighers then order those. Larger: closer to weighing every '
                    'host, slower.'),
] + [
    cfg.FloatOpt(f'{name}_weight_multiplier', default=multiplier, mutable=True,
                 help=f'Multiplier of the {name} weigher (0 disables it; negative '
                      'reverses its preference, e.g. pack instead of spread). Reloaded '
                      'on SIGHUP.')
    for name, multiplier in DEFAULT_MULTIPLIERS.items()
]

allocation_opts = [
    cfg.FloatOpt('cpu_allocation_ratio', default=4.0, min=0.0001,
                 help='Floating vCPUs per shared pCPU. Pinned vCPUs are never overcommitted.'),
    cfg.FloatOpt('ram_allocation_ratio', default=1.0, min=0.0001,
                 help='Small-page memory overcommit. Hugepage memory is never overcommitted.'),
]


def register_opts(conf):
    conf.register_opts(filter_scheduler_opts, group=GROUP)
    conf.register_opts(allocation_opts)


def list_opts():
    """[(group, opts)] for oslo-config-generator."""
    return [(GROUP, filter_scheduler_opts), ('DEFAULT', allocation_opts)]


def filter_names():
    """The names of the installed kvmfleet filters (entry points)."""
    return {entry.name for entry in metadata.entry_points(group=FILTER_GROUP)}


def weigher_multipliers(conf):
    """{weigher name: multiplier} from ``conf`` (these options are mutable)."""
    group = conf[GROUP]
    return {name: group[f'{name}_weight_multiplier'] for name in DEFAULT_MULTIPLIERS}


def settings_from_conf(conf):
    """EngineSettings from ``conf``, options registered if needed.

    The commands (scheduler/cmd/) call it with the configuration they loaded and
    hand the values to ``build_engine``: no module of the algorithm reads
    configuration (tests/unit/scheduler/engine/test_opts.py holds them to that).
    """
    register_opts(conf)
    group = conf[GROUP]
    return EngineSettings(
        enabled_filters=resolve_filter_names(group.enabled_filters, filter_names()),
        weigher_multipliers=weigher_multipliers(conf),
        cpu_allocation_ratio=conf.cpu_allocation_ratio,
        ram_allocation_ratio=conf.ram_allocation_ratio,
        host_subset_size=group.host_subset_size, max_alternates=group.max_alternates,
        fit_candidates=group.fit_candidates, large_page_order=group.large_page_order,
        shuffle_best_same_weighed_hosts=group.shuffle_best_same_weighed_hosts)


register_opts(cfg.CONF)
