"""Guest NUMA topology: ``hw:numa_nodes``, ``hw:numa_cpus.N``, ``hw:numa_mem.N``.

Nova semantics: a guest gets a NUMA topology when it asks for one
(``hw:numa_nodes``), is pinned (dedicated or mixed CPU policy) or names a
page size; then it has ``hw:numa_nodes`` cells, 1 when unset.  Without
per-cell settings vCPUs and memory are split evenly, and a split that is not
even is an error.  With per-cell settings every cell must have both keys, the
cells must cover each vCPU exactly once and their memory must add up to the
guest's.  The node count, the CPU lists and the memory lists may each come
from the flavor or the image, but not both.
"""

import re

from scheduler.specs import sources as src
from wire.cpuset import CpuSetError, format_cpuset, parse_cpuset
from wire.request_spec import GuestCell

MAX_NODES = 128            # Nova's limit on guest NUMA nodes
CELL_KEY = re.compile(r'^hw(:|_)numa_(cpus|mem)\.([0-9]{1,6})$')


def parse_numa(sources, vcpus, memory_mb, implied, errors):
    """Guest cells as a tuple of GuestCell; () when the guest has no NUMA topology.

    ``implied`` says whether another setting (pinning, page size) asks for
    a topology.  ``vcpus``/``memory_mb`` are None when they were invalid, in
    which case only the settings themselves are checked.
    """
    nodes, nodes_field = _node_count(sources, errors)
    cpu_keys, mem_keys, keys_field = _cell_keys(sources, errors)
    if nodes is None and any(v is not None for v in sources.pair('numa_nodes')):
        return ()      # the node count itself is wrong: already reported
    if nodes is None and not implied:
        for key in sorted(cpu_keys.values()) + sorted(mem_keys.values()):
            errors.add(keys_field(key), 'needs hw:numa_nodes: this guest has no NUMA topology')
        return ()
    nodes = nodes or 1
    if not vcpus or not memory_mb:
        return ()
    if not cpu_keys and not mem_keys:
        return _even_split(nodes, nodes_field, vcpus, memory_mb, errors)
    if not _complete(nodes, cpu_keys, mem_keys, keys_field, errors):
        return ()
    cpus = [_cell_cpus(sources, cpu_keys[i], keys_field, errors) for i in range(nodes)]
    mems = [_cell_memory(sources, mem_keys[i], keys_field, errors) for i in range(nodes)]
    if None in cpus or None in mems:
        return ()
    if not _covers_vcpus(cpus, vcpus, cpu_keys, keys_field, errors):
        return ()
    if sum(mems) != memory_mb:
        errors.add(keys_field(mem_keys[0]),
                   f'the cells\' memory adds up to {sum(mems)} MB '
                   f'({" + ".join(map(str, mems))}) but the guest has {memory_mb} MB')
        return ()
    return tuple(GuestCell(i, tuple(sorted(cpus[i])), mems[i]) for i in range(nodes))


def _node_count(sources, errors):
    flavor, image = sources.pair('numa_nodes')
    if flavor is not None and image is not None:
        errors.add(src.image_field('hw_numa_nodes'),
                   f'{image!r} is not allowed: the flavor already sets hw:numa_nodes={flavor}')
        return None, None
    text, field = ((flavor, src.flavor_field('hw:numa_nodes')) if flavor is not None
                   else (image, src.image_field('hw_numa_nodes')))
    if text is None:
        return None, src.flavor_field('hw:numa_nodes')
    if not _ascii_number(text) or not 1 <= int(text) <= MAX_NODES:
        errors.add(field, f'{text!r} is not a whole number from 1 to {MAX_NODES}')
        return None, field
    return int(text), field


def _cell_keys(sources, errors):
    """{cell: key} for CPUs and memory, each family from the flavor or else the image."""
    found = {('flavor', 'cpus'): {}, ('flavor', 'mem'): {},
             ('image', 'cpus'): {}, ('image', 'mem'): {}}
    for origin, mapping in (('flavor', sources.extra_specs), ('image', sources.image_properties)):
        for key in mapping:
            match = CELL_KEY.match(key)
            if match and (match.group(1) == ':') == (origin == 'flavor'):
                found[(origin, match.group(2))][int(match.group(3))] = key
    chosen = {}
    for family in ('cpus', 'mem'):
        flavor_keys, image_keys = found[('flavor', family)], found[('image', family)]
        if flavor_keys and image_keys:
            for key in sorted(image_keys.values()):
                errors.add(src.image_field(key), f'is not allowed: the flavor already sets '
                                                 f'hw:numa_{family}.N')
        chosen[family] = flavor_keys or image_keys
    image_keys = set(found[('image', 'cpus')].values()) | set(found[('image', 'mem')].values())

    def keys_field(key):
        return src.image_field(key) if key in image_keys else src.flavor_field(key)
    return chosen['cpus'], chosen['mem'], keys_field


def _complete(nodes, cpu_keys, mem_keys, keys_field, errors):
    """Every cell has both keys, no key names a cell beyond the node count."""
    example = sorted(list(cpu_keys.values()) + list(mem_keys.values()))[0]
    complete = True
    for family, keys in (('cpus', cpu_keys), ('mem', mem_keys)):
        for cell in sorted(keys):
            if cell >= nodes:
                complete = False
                errors.add(keys_field(keys[cell]),
                           f'names cell {cell} but hw:numa_nodes={nodes} '
                           f'(cells 0-{nodes - 1})')
        # A missing key is named in the form (flavor or image) its family uses.
        model = keys_field(next(iter(keys.values()), example))
        prefix = 'hw_' if model.startswith(src.IMAGE_FIELD) else 'hw:'
        for cell in range(nodes):
            if cell not in keys:
                complete = False
                missing = f'{prefix}numa_{family}.{cell}'
                # Point at a key of the same family when there is one.
                given = min(keys.values(), default=example)
                errors.add(_missing_field(model, missing),
                           f'{missing} is missing: hw:numa_nodes={nodes} and {given} is set')
    return complete


def _missing_field(model_field, missing):
    origin = src.IMAGE_FIELD if model_field.startswith(src.IMAGE_FIELD) else src.FLAVOR_FIELD
    return f'{origin}.{missing}'


def _cell_cpus(sources, key, keys_field, errors):
    text = sources.flavor(key) if key.startswith('hw:') else sources.image(key)
    try:
        cpus = parse_cpuset(text, sources.limits.max_vcpu_id)
    except CpuSetError as exc:
        errors.add(keys_field(key), f'{text!r}: {exc}')
        return None
    if not cpus:
        errors.add(keys_field(key), f'{text!r} gives the cell no vCPU')
        return None
    return cpus


def _cell_memory(sources, key, keys_field, errors):
    text = sources.flavor(key) if key.startswith('hw:') else sources.image(key)
    maximum = sources.limits.max_memory_mb
    if not _ascii_number(text) or not 1 <= int(text) <= maximum:
        errors.add(keys_field(key), f'{text!r} is not a memory size in MB (a whole number '
                                    f'from 1 to {maximum}, ASCII digits)')
        return None
    return int(text)


def _ascii_number(text):
    """ASCII digits only ('²' and '٣' are digits to Python, not to kvmfleet), 20 at most."""
    return text.isascii() and text.isdigit() and len(text) <= 20


def _covers_vcpus(cpus, vcpus, cpu_keys, keys_field, errors):
    """Each vCPU 0..vcpus-1 appears in exactly one cell.  vCPUs are named as ranges
    ("4-4095"), so a message stays short however many vCPUs it is about."""
    ok, owner = True, {}
    for cell, cell_cpus in enumerate(cpus):
        field = keys_field(cpu_keys[cell])
        outside = [c for c in cell_cpus if c >= vcpus]
        if outside:
            ok = False
            errors.add(field, f'names vCPU(s) {format_cpuset(outside)} but the guest has '
                              f'{vcpus} vCPUs (0-{vcpus - 1})')
        taken = {}          # earlier cell -> this cell's vCPUs it already holds
        for cpu in cell_cpus:
            if cpu in owner and cpu < vcpus:
                taken.setdefault(owner[cpu], []).append(cpu)
            owner.setdefault(cpu, cell)
        for earlier, both in sorted(taken.items()):
            ok = False
            errors.add(field, f'vCPU(s) {format_cpuset(both)} already in cell {earlier} '
                              f'({cpu_keys[earlier]}); each vCPU belongs to one cell')
    unassigned = set(range(vcpus)) - set(owner)
    if unassigned:
        ok = False
        errors.add(keys_field(cpu_keys[0]).rsplit('.', 1)[0] + '.N',
                   f'vCPU(s) {format_cpuset(unassigned)} are in no cell; the cells must '
                   f'cover vCPUs 0-{vcpus - 1}')
    return ok


def _even_split(nodes, nodes_field, vcpus, memory_mb, errors):
    if vcpus % nodes or memory_mb % nodes:
        errors.add(nodes_field,
                   f'{vcpus} vCPUs and {memory_mb} MB cannot be split evenly over {nodes} '
                   f'NUMA nodes; give each cell hw:numa_cpus.N and hw:numa_mem.N')
        return ()
    per_cpus, per_mem = vcpus // nodes, memory_mb // nodes
    return tuple(GuestCell(i, tuple(range(i * per_cpus, (i + 1) * per_cpus)), per_mem)
                 for i in range(nodes))
