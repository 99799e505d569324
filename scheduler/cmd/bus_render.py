"""Text output of the bus commands (``--format table``)."""

import json

from scheduler.cmd.render import table
from scheduler.fitting.reasons import page_label
from wire.cpuset import format_cpuset


def instances_table(answer):
    rows = [(i['uuid'], i['name'], i['state'] + (f" ({i['task']})" if i['task'] else ''),
             i['host'] or '-', i['reason'] or '') for i in answer['instances']]
    return table(('UUID', 'NAME', 'STATE', 'HOST', 'REASON'), rows)


def assignment_lines(assignment):
    """Readable lines for one assignment dict."""
    lines = [f"host {assignment['host']}  vcpus {assignment['vcpus']}  "
             f"memory {assignment['memory_mb']} MiB"]
    for cell in assignment['cells']:
        pins = ', '.join(f"{v}->{p}" for v, p in sorted(cell['pinning'].items(),
                                                       key=lambda kv: int(kv[0])))
        floats = format_cpuset(cell['shared_cpus']) if cell['shared_cpus'] else ''
        reserved = format_cpuset(cell.get('reserved_pcpus') or ())
        lines.append(f"  guest cell {cell['guest_cell']} -> host cell {cell['host_cell']}: "
                     f"{cell['memory_mb']} MiB in {page_label(cell['page_size_kb'])} pages"
                     f"{'; pinned ' + pins if pins else ''}"
                     f"{'; siblings held ' + reserved if reserved else ''}"
                     f"{'; floats on ' + floats if floats else ''}")
    if not assignment['cells'] and assignment['shared_cpus']:
        lines.append(f"  floats on pCPUs {format_cpuset(assignment['shared_cpus'])}")
    if assignment['emulator_pcpus']:
        lines.append(f"  emulator threads on {format_cpuset(assignment['emulator_pcpus'])}")
    for pci in assignment['pci_devices']:
        lines.append(f"  pci {pci['address']} (cell {pci['host_cell']}, {pci['request']}"
                     f"{', ' + pci['physical_network'] if pci['physical_network'] else ''})")
    return lines


def instance_detail(record):
    lines = [f"{key:<10} {record[key] if record[key] is not None else '-'}"
             for key in ('uuid', 'name', 'state', 'task', 'host', 'reason')]
    for attempt in record.get('attempts') or []:
        lines.append(f"attempt    {attempt['host']}: {attempt['reason']}")
    if record.get('assignment'):
        lines += ['assignment'] + assignment_lines(record['assignment'])
    return '\n'.join(lines)


def _pages(cell):
    return ' '.join(f"{page_label(int(size))}:{p['free']}/{p['total']}"
                    for size, p in cell['pages'].items())


def _vfs(by_physnet):
    return ' '.join(f"{net}:{v['free']}/{v['total']}" for net, v in by_physnet.items())


def hosts_table(answer):
    rows = []
    for host in answer['hosts']:
        status = ('up' if host['up'] else 'DOWN') + ('' if host['enabled'] else ',disabled')
        for cell in host['cells']:
            rows.append((host['name'], status, cell['id'],
                         f"{cell['pcpus']['used']}/{cell['pcpus']['free']}",
                         _pages(cell) or '-', _vfs(cell['vfs_by_physnet']) or '-',
                         host['instances']))
        for flagged in host.get('unknown_domains') or []:
            rows.append((host['name'], 'unknown', '-', '-', '-', '-',
                         f"{flagged['name']}: {flagged['reason']}"))
    return table(('HOST', 'STATUS', 'CELL', 'PCPU USED/FREE', 'PAGES FREE/TOTAL',
                  'VFS FREE/TOTAL', 'INSTANCES'), rows)


def explain_text(answer):
    lines = []
    for assignment in answer['assignments']:
        lines += [f"{assignment['instance']}:"] + assignment_lines(assignment)
        others = answer['alternates'].get(assignment['instance'])
        if others:
            lines.append(f"  alternates: {', '.join(others)}")
    explanation = answer.get('explanation') or {}
    lines += explanation.get('lines', [])
    return '\n'.join(lines) or json.dumps(answer)


def capacity_text(answer):
    text = f"{answer['request']}: {answer['fits']} more fit"
    if answer.get('runs_out'):
        text += f"; runs out first: {answer['runs_out']} ({answer.get('example')})"
    return text
