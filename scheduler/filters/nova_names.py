"""Nova's filter class names accepted in ``[filter_scheduler] enabled_filters``.

An operator coming from Nova may keep the names of a nova.conf; each Nova
filter with the same meaning as one of ours is an alias of it.  A Nova
filter kvmfleet does not implement is refused by name (never silently
dropped: a filter an operator believes active must be active).
"""

OPTION = '[filter_scheduler] enabled_filters'

NOVA_ALIASES = {
    'ComputeFilter': 'enabled',             # host enabled and up
    'RamFilter': 'ram',                     # removed from Nova in Stein; same rule
    'CoreFilter': 'vcpu',                   # removed from Nova in Stein; same rule
    'NUMATopologyFilter': 'numa',           # cells, pinning, hugepages
    'PciPassthroughFilter': 'pci',
    'AggregateInstanceExtraSpecsFilter': 'aggregate_extra_specs',
    'ServerGroupAffinityFilter': 'server_group_affinity',
    'ServerGroupAntiAffinityFilter': 'server_group_anti_affinity',
}

# Nova filters without a kvmfleet counterpart (refused with this list's reason).
NOVA_UNSUPPORTED = {
    'AllHostsFilter': 'no filtering is not an option here',
    'AvailabilityZoneFilter': 'kvmfleet has no availability zones',
    'ComputeCapabilitiesFilter': 'use trait:X=required extra specs (traits)',
    'ImagePropertiesFilter': 'hw_* image properties are read by the numa, pci, sev and '
                             'secure_boot filters; architecture/hypervisor matching is not '
                             'implemented',
    'DiskFilter': 'kvmfleet does not place disk',
    'AggregateDiskFilter': 'kvmfleet does not place disk',
    'AggregateCoreFilter': 'allocation ratios are per scheduler, not per aggregate',
    'AggregateRamFilter': 'allocation ratios are per scheduler, not per aggregate',
    'AggregateImagePropertiesIsolation': 'not implemented',
    'AggregateMultiTenancyIsolation': 'kvmfleet has no tenants',
    'AggregateNumInstancesFilter': 'not implemented',
    'AggregateIoOpsFilter': 'not implemented',
    'AggregateTypeAffinityFilter': 'not implemented',
    'DifferentHostFilter': 'use a server group with anti-affinity',
    'SameHostFilter': 'use a server group with affinity',
    'SimpleCIDRAffinityFilter': 'not implemented',
    'IoOpsFilter': 'not implemented',
    'NumInstancesFilter': 'not implemented',
    'IsolatedHostsFilter': 'not implemented',
    'JsonFilter': 'not implemented',
    'MetricsFilter': 'not implemented',
    'RetryFilter': 'not needed: a reschedule goes to the next alternate host',
}


class FilterNameError(ValueError):
    """A name in enabled_filters is neither a kvmfleet filter nor a Nova alias of one."""


def resolve_filter_names(names, known):
    """Our filter names for ``names`` (ours or Nova's), in order, each once.

    ``known`` is the set of kvmfleet filter names; FilterNameError names the
    option and the first name that cannot be used.
    """
    resolved = []
    for name in names:
        ours = NOVA_ALIASES.get(name, name)
        if name in NOVA_UNSUPPORTED:
            raise FilterNameError(f"{OPTION}: {name} is a Nova filter kvmfleet does not "
                                  f"implement ({NOVA_UNSUPPORTED[name]})")
        if ours not in known:
            raise FilterNameError(f"{OPTION}: {name!r} is not a filter (kvmfleet filters: "
                                  f"{', '.join(sorted(known))}; Nova names: "
                                  f"{', '.join(sorted(NOVA_ALIASES))})")
        if ours not in resolved:
            resolved.append(ours)
    return tuple(resolved)
