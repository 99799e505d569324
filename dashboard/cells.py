"""A host's NUMA cells drawn thread by thread: cores with their siblings, who holds what.

Input is the scheduler's ``host_detail`` answer: the ``hosts`` view of one host plus
its ``topology`` (cells with ``cpus``, ``shared_cpus``, ``siblings``; ``pci_devices``;
``instances`` with their assignments).  Each pCPU is one square inside its core's
frame; its fill says what holds it: free, pinned to an instance's vCPU (the
instance's colour), a sibling held by ``isolate``, the emulator threads, or a shared
pCPU for floating vCPUs.  ``focus`` (an instance uuid) greys every other instance.
"""

from dashboard.html import esc, free_colour, free_fraction, link, page_label, table

THREAD, GAP, CORES_PER_ROW = 34, 4, 8
PALETTE = ('#3182bd', '#e6550d', '#31a354', '#756bb1', '#d6616b', '#8c6d31', '#17becf',
           '#bcbd22', '#7f7f7f', '#e377c2')
STATE_FILLS = {'free': '#e5f5e0', 'shared': '#c6dbef', 'isolate': '#bdbdbd',
               'emulator': '#54278f', 'other': '#eeeeee'}
STATE_WORDS = {'free': 'free', 'shared': 'shared (floating vCPUs)',
               'isolate': 'sibling held by isolate', 'emulator': 'emulator threads',
               'other': 'another instance'}
SHORT = {'shared': 'sh', 'isolate': 'iso', 'emulator': 'emu', 'other': ''}


def instance_colours(instances):
    """uuid -> colour, in the order of the instances' names."""
    ordered = sorted(instances, key=lambda i: (i['name'], i['uuid']))
    return {inst['uuid']: PALETTE[n % len(PALETTE)] for n, inst in enumerate(ordered)}


def holders(topology):
    """pCPU -> (state, instance dict, what): every pCPU an instance holds or uses."""
    held = {}
    for inst in topology.get('instances', ()):
        assignment = inst['assignment']
        for cell in assignment['cells']:
            for vcpu, pcpu in sorted(cell['pinning'].items(), key=lambda kv: int(kv[0])):
                held[pcpu] = ('pinned', inst, f"vCPU {vcpu}")
            for pcpu in cell.get('reserved_pcpus') or ():
                held.setdefault(pcpu, ('isolate', inst, 'sibling held by isolate'))
        shared = set(assignment['shared_cpus'])
        for pcpu in assignment['emulator_pcpus']:
            if pcpu not in shared:
                held.setdefault(pcpu, ('emulator', inst, 'emulator threads'))
    return held


def cores(cell):
    """The cell's cores: sibling groups among its pCPUs, lone threads as cores of one."""
    threads = set(cell['cpus']) | set(cell.get('shared_cpus') or ())
    groups, seen = [], set()
    for siblings in cell.get('siblings') or ():
        group = sorted(set(siblings) & threads - seen)
        if group:
            groups.append(group)
            seen.update(group)
    groups += [[cpu] for cpu in sorted(threads - seen)]
    return sorted(groups, key=lambda group: group[0])


def _thread(pcpu, x, y, cell, held, colours, focus):
    state, inst, what = held.get(pcpu, (None, None, ''))
    if state is None:
        state = 'shared' if pcpu in (cell.get('shared_cpus') or ()) else 'free'
    if inst is not None and focus and inst['uuid'] != focus:
        state, inst, what = 'other', inst, what
    if state == 'pinned':
        fill, short = colours[inst['uuid']], f"v{what.split()[-1]}"
    else:
        fill, short = STATE_FILLS[state], SHORT.get(state, '')
    owner = f" of {inst['name']} ({inst['uuid']})" if inst is not None else ''
    title = f"pCPU {pcpu}: {what or STATE_WORDS[state]}{owner}"
    ink = '#ffffff' if state in ('pinned', 'emulator') else '#222222'
    instance = f' data-instance="{esc(inst["uuid"])}"' if inst is not None else ''
    return (f'<g class="thread {state}" data-pcpu="{pcpu}" data-state="{state}"{instance} '
            f'transform="translate({x},{y})"><title>{esc(title)}</title>'
            f'<rect width="{THREAD}" height="{THREAD}" rx="3" fill="{fill}" stroke="#555"/>'
            f'<text x="{THREAD // 2}" y="14" fill="{ink}" text-anchor="middle">{pcpu}</text>'
            f'<text class="small" x="{THREAD // 2}" y="28" fill="{ink}" '
            f'text-anchor="middle">{esc(short)}</text></g>')


def cell_svg(cell, held, colours, focus=None):
    """One cell: a frame per core holding its threads, CORES_PER_ROW cores to a row."""
    core_height = THREAD + 2 * GAP
    parts, x, y, width = [], 0, 0, 0
    for n, group in enumerate(cores(cell)):
        if n and n % CORES_PER_ROW == 0:
            x, y = 0, y + core_height + GAP
        core_width = len(group) * (THREAD + GAP) + GAP
        parts.append(f'<g class="core" data-threads="{",".join(map(str, group))}" '
                     f'transform="translate({x},{y})"><rect width="{core_width}" '
                     f'height="{core_height}" rx="5" fill="none" stroke="#888"/>')
        parts += [_thread(pcpu, GAP + i * (THREAD + GAP), GAP, cell, held, colours, focus)
                  for i, pcpu in enumerate(group)]
        parts.append('</g>')
        x += core_width + GAP
        width = max(width, x)
    return (f'<svg class="threads" data-cell="{esc(cell["id"])}" width="{max(width, 1)}" '
            f'height="{y + core_height + GAP}" role="img" '
            f'aria-label="cell {esc(cell["id"])} threads">{"".join(parts)}</svg>')


def state_legend(instances, colours, focus=None):
    items = [f'<li><svg width="14" height="14" aria-hidden="true"><rect width="14" height="14"'
             f' fill="{STATE_FILLS[s]}" stroke="#555"/></svg> {esc(STATE_WORDS[s])}</li>'
             for s in ('free', 'shared', 'isolate', 'emulator')]
    items += [f'<li><svg width="14" height="14" aria-hidden="true"><rect width="14" height="14"'
              f' fill="{colours[i["uuid"]]}"/></svg> '
              f'{link("/instance/" + i["uuid"], i["name"])} (pinned vCPUs)</li>'
              for i in sorted(instances, key=lambda i: (i['name'], i['uuid']))
              if not focus or i['uuid'] == focus]
    return f'<ul class="legend">{"".join(items)}</ul>'


def pages_table(view_cell):
    """Pages by size of one cell (the ``hosts`` view), small pages in MiB first."""
    small = view_cell.get('small_page_mb') or {}
    rows = [('4K (MiB)', small.get('total', 0), small.get('used', 0),
             _free(small.get('total', 0) - small.get('used', 0), small.get('total', 0)))]
    rows += [(page_label(size), pool['total'], pool['used'], _free(pool['free'], pool['total']))
             for size, pool in view_cell['pages'].items()]
    return table(('page size', 'total', 'used', 'free'), rows, 'pages')


def _free(free, total):
    colour = free_colour(free_fraction(free, total))
    return f'<svg width="12" height="12" aria-hidden="true"><rect width="12" height="12" ' \
           f'fill="{colour}"/></svg> {free}'


def pci_holders(topology):
    """PCI address -> the instance holding it."""
    return {pci['address']: inst for inst in topology.get('instances', ())
            for pci in inst['assignment']['pci_devices']}


def vfs_by_pf(topology, cell_id):
    """[(PF device or None, [VF devices])] of the cell, by PF address."""
    devices = topology.get('pci_devices') or ()
    pfs = {d['address']: d for d in devices if d['type'] == 'type-PF'}
    groups = {}
    for device in devices:
        if device['type'] == 'type-VF' and device.get('numa_node') == cell_id:
            groups.setdefault(device.get('parent') or '', []).append(device)
    return [(pfs.get(parent), sorted(vfs, key=lambda d: d['address']))
            for parent, vfs in sorted(groups.items())]


def _vf_square(vf, n, holder, focus):
    used = holder is not None
    fill = STATE_FILLS['free'] if not used else (
        STATE_FILLS['other'] if focus and holder['uuid'] != focus else '#3182bd')
    who = f": {holder['name']} ({holder['uuid']})" if used else ': free'
    return (f'<g class="vf {"used" if used else "free"}" data-address="{esc(vf["address"])}"'
            f' transform="translate({n * 18},0)"><title>{esc(vf["address"] + who)}</title>'
            f'<rect width="14" height="14" rx="2" fill="{fill}" stroke="#555"/></g>')


def vf_table(topology, cell_id, focus=None):
    """The cell's VFs grouped by their PF: physnet, free count, one square per VF."""
    holders_by_address = pci_holders(topology)
    rows = []
    for pf, vfs in vfs_by_pf(topology, cell_id):
        physnet = (pf or {}).get('physical_network') or vfs[0].get('physical_network') or '-'
        squares = ''.join(_vf_square(vf, n, holders_by_address.get(vf['address']), focus)
                          for n, vf in enumerate(vfs))
        free = sum(1 for vf in vfs if vf['address'] not in holders_by_address)
        rows.append((esc(pf['address'] if pf else '(no PF)'), esc(physnet),
                     _free(free, len(vfs)) + f'/{len(vfs)}',
                     f'<svg class="vfs" width="{18 * len(vfs)}" height="14" role="img" '
                     f'aria-label="VFs">{squares}</svg>'))
    if not rows:
        return '<p class="none">No VFs on this cell.</p>'
    return table(('PF', 'physnet', 'free', 'VFs'), rows, 'vfs')


def cells_section(detail, focus=None):
    """Every cell of the host: its threads, its pages by size, its VFs by PF."""
    topology = detail['topology']
    instances = topology.get('instances', ())
    colours, held = instance_colours(instances), holders(topology)
    views = {cell['id']: cell for cell in detail['cells']}
    parts = [state_legend(instances, colours, focus)]
    for cell in topology['cells']:
        view = views.get(cell['id'], {'pages': {}, 'pcpus': {'free': 0, 'total': 0}})
        pcpus = view['pcpus']
        parts.append(f'<section class="cell" data-cell="{esc(cell["id"])}">'
                     f'<h2>cell {esc(cell["id"])}: {pcpus["free"]} of {pcpus["total"]} '
                     f'dedicated pCPUs free</h2>{cell_svg(cell, held, colours, focus)}'
                     f'<div class="cell-tables">{pages_table(view)}'
                     f'{vf_table(topology, cell["id"], focus)}</div></section>')
    return ''.join(parts)
