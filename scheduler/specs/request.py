"""parse_request: one raw request (plus flavors and PCI aliases) -> RequestSpec."""

from scheduler.specs import sources as src
from scheduler.specs.cpu import check_cpu_topology, parse_cpu
from scheduler.specs.memory import parse_page_size
from scheduler.specs.misc import (
    check_guest_hardware,
    check_snp_secure_boot,
    parse_aggregate_specs,
    parse_mem_encryption,
    parse_multiqueue,
    parse_secure_boot,
    parse_traits,
)
from scheduler.specs.namespaces import check_keys, check_libvirt_values
from scheduler.specs.numa import parse_numa
from scheduler.specs.pci import parse_pci_numa_policy, parse_pci_requests, parse_ports
from wire import fields, names
from wire import request_spec as rs
from wire.errors import Collector, FieldError, InvalidInput
from wire.limits import DEFAULT
from wire.networks import port_traits

SERVER_GROUP_POLICIES = ('affinity', 'anti-affinity', 'soft-affinity', 'soft-anti-affinity')
FLAVOR_OWNED_FIELDS = ('vcpus', 'memory_mb', 'extra_specs')
MAX_PER_HOST = 1000     # max_server_per_host: far above any host's instances


def parse_request(raw, aliases=None, flavors=None, limits=DEFAULT):
    """Validate ``raw`` and resolve it into a RequestSpec.

    ``aliases`` is ``{name: Alias}`` (see ``parse_aliases``); ``flavors`` is
    ``{name: {vcpus, ram, extra_specs}}`` for requests that say
    ``flavor: NAME``; ``limits`` (wire.limits.Limits) bounds every number,
    list and string.  Raises wire.errors.InvalidInput with every broken rule.
    """
    if not isinstance(raw, dict):
        raise InvalidInput([FieldError('request', 'expected an object')])
    errors = Collector()
    vcpus, memory_mb, extra_specs = _sizes(raw, flavors, errors, limits)
    sources = src.Sources.build(extra_specs, raw.get('image_properties'), errors, limits)
    spec = _resolve(sources, vcpus, memory_mb, aliases, errors)
    spec['ports'] = parse_ports(raw.get('ports'), errors, limits=limits)
    # normal ports need a host that bridges their network (wire.networks)
    spec['required_traits'] = spec['required_traits'] | port_traits(spec['ports'])
    spec['count'], spec['min_count'] = _counts(raw, errors, limits.max_count)
    name = _name(raw.get('name'), spec['count'], errors, limits.max_string_length)
    spec['server_group'] = _server_group(raw.get('server_group'), errors)
    if raw.get('image') is not None:
        spec['image'] = src.checked(errors, names.identifier, raw['image'], 'image',
                                    what='an image name')
    errors.raise_if_any()
    return rs.RequestSpec(name=name, vcpus=vcpus, memory_mb=memory_mb,
                          extra_specs=dict(extra_specs or {}),
                          image_properties=dict(raw.get('image_properties') or {}), **spec)


def _resolve(sources, vcpus, memory_mb, aliases, errors):
    """Every extra-spec driven field of the spec, as keyword arguments."""
    check_keys(sources, errors)
    check_libvirt_values(sources, errors)
    cpu = parse_cpu(sources, vcpus, errors)
    page_size = parse_page_size(sources, errors)
    implied = cpu.pinned or page_size is not None
    policy = parse_pci_numa_policy(sources, errors)
    required, forbidden = parse_traits(sources, errors)
    numa_cells = parse_numa(sources, vcpus, memory_mb, implied, errors)
    check_cpu_topology(sources, vcpus, numa_cells, errors)
    guest_traits = check_guest_hardware(sources, errors)
    encryption = parse_mem_encryption(sources, errors)
    secure_boot = parse_secure_boot(sources, errors)
    check_snp_secure_boot(sources, encryption, secure_boot, errors)
    return dict(
        cpu_policy=cpu.policy, dedicated_vcpus=cpu.dedicated_vcpus,
        thread_policy=cpu.thread_policy, emulator_threads_policy=cpu.emulator_threads_policy,
        realtime_vcpus=cpu.realtime_vcpus,
        numa_cells=numa_cells,
        page_size=page_size,
        pci_requests=parse_pci_requests(sources, aliases, policy, errors),
        pci_numa_affinity_policy=policy or rs.PCI_LEGACY,
        multiqueue=parse_multiqueue(sources, errors),
        mem_encryption=encryption is not None, mem_encryption_model=encryption,
        secure_boot=secure_boot,
        # the guest hardware and tunables asked need hosts that can give them (a vTPM, ...)
        required_traits=required | guest_traits,
        forbidden_traits=forbidden,
        aggregate_specs=parse_aggregate_specs(sources, errors))


def _name(value, count, errors, max_length):
    """The instance name; with count N, name-1..name-N must fit the name rule too."""
    suffix = len(f'-{count}') if count > 1 else 0
    return src.checked(errors, names.instance_name, value, 'name', max_length - suffix)


def _sizes(raw, flavors, errors, limits):
    """(vcpus, memory_mb, extra_specs) from the request or from its flavor."""
    if raw.get('flavor') is None:
        vcpus = src.checked(errors, _positive, raw.get('vcpus'), 'vcpus', limits.max_vcpus)
        memory_mb = src.checked(errors, _positive, raw.get('memory_mb'), 'memory_mb',
                             limits.max_memory_mb)
        return vcpus, memory_mb, raw.get('extra_specs') or {}
    flavor_name = raw['flavor']
    flavor = (flavors or {}).get(flavor_name) if isinstance(flavor_name, str) else None
    if flavor is None:
        known = ', '.join(sorted(flavors or {})) or 'none loaded'
        errors.add('flavor', f'{fields.shown(flavor_name)} is not a known flavor '
                             f'(known: {known})')
        return None, None, {}
    for key in FLAVOR_OWNED_FIELDS:
        if raw.get(key) is not None:
            errors.add(key, f'is set by flavor {flavor_name!r}; a request naming a flavor '
                            'cannot also give it')
    where = f'flavors.{flavor_name}'
    if not isinstance(flavor, dict):
        errors.add(where, 'expected an object {vcpus, ram, extra_specs}')
        return None, None, {}
    vcpus = src.checked(errors, _positive, flavor.get('vcpus'), f'{where}.vcpus', limits.max_vcpus)
    memory_mb = src.checked(errors, _positive, flavor.get('ram'), f'{where}.ram',
                         limits.max_memory_mb)
    return vcpus, memory_mb, flavor.get('extra_specs') or {}


def _positive(value, field, maximum):
    if value is None:
        raise FieldError(field, 'is required')
    return fields.integer(value, field, minimum=1, maximum=maximum)


def _counts(raw, errors, max_count):
    count = src.checked(errors, fields.integer, raw.get('count', 1), 'count', minimum=1,
                     maximum=max_count)
    min_count = src.checked(errors, fields.integer, raw.get('min_count', 1), 'min_count',
                         minimum=1, maximum=max_count)
    if count is not None and min_count is not None and min_count > count:
        errors.add('min_count', f'{min_count} is above count {count}')
    return count or 1, min_count or 1


def _server_group(raw, errors):
    if raw is None:
        return None
    if isinstance(raw, str):
        # A group by name: the scheduler puts the stored group in its place before
        # parsing (scheduler/server_groups.py); without a store there is none.
        errors.add('server_group', f"{fields.shown(raw)}: a group by name needs the "
                   "scheduler's server groups; give {name, policy[, rules]}")
        return None
    if not isinstance(raw, dict):
        errors.add('server_group', 'expected an object {name, policy[, rules]} or a name')
        return None
    unknown = sorted(set(raw) - {'name', 'policy', 'rules'})
    if unknown:
        errors.add('server_group', f"{fields.shown(unknown[0])} is not a server group field "
                   '(name, policy, rules)')
    name = src.checked(errors, names.instance_name, raw.get('name'), 'server_group.name')
    policy = raw.get('policy')
    if policy not in SERVER_GROUP_POLICIES:
        errors.add('server_group.policy',
                   f'{fields.shown(policy)} is not one of {", ".join(SERVER_GROUP_POLICIES)}')
        return None
    per_host = _group_rules(raw.get('rules'), policy, errors)
    return rs.ServerGroup(name, policy, per_host) if name else None


def _group_rules(rules, policy, errors):
    """Nova's rules of a server group: only ``max_server_per_host``, only for anti-affinity."""
    if rules is None or rules == {}:
        return None
    if not isinstance(rules, dict):
        errors.add('server_group.rules', 'expected an object {max_server_per_host: N}')
        return None
    unknown = sorted(set(rules) - {'max_server_per_host'})
    if unknown:
        errors.add('server_group.rules', f"{fields.shown(unknown[0])} is not a rule (the one "
                   'rule is max_server_per_host)')
        return None
    if policy != 'anti-affinity':
        errors.add('server_group.rules.max_server_per_host',
                   f"applies to the anti-affinity policy only, not {policy}")
        return None
    return src.checked(errors, fields.integer, rules['max_server_per_host'],
                       'server_group.rules.max_server_per_host', minimum=1, maximum=MAX_PER_HOST)


def parse_server_group(raw):
    """A server group object as an operator creates it; InvalidInput naming each broken rule."""
    errors = Collector()
    if not isinstance(raw, dict):
        raise InvalidInput([FieldError('server_group', 'expected an object {name, policy}')])
    group = _server_group(raw, errors)
    errors.raise_if_any()
    return group
