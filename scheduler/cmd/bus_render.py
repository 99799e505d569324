"""Output of the bus commands: cliff columns and rows, and the readable reports.

Rows hold the answer's own fields, so ``-f json|yaml`` gives the same keys
(and nested values) the scheduler answered; a FormattableColumn renders a
nested value readably for ``-f table|csv|value``.
"""

import json

from cliff import columns

from scheduler.fitting.reasons import page_label
from wire.cpuset import format_cpuset


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


def _pages(cell):
    return ' '.join(f"{page_label(int(size))}:{p['free']}/{p['total']}"
                    for size, p in cell['pages'].items())


def _vfs(by_physnet):
    return ' '.join(f"{net}:{v['free']}/{v['total']}" for net, v in by_physnet.items())


def explain_text(answer):
    lines = []
    for assignment in answer['assignments']:
        lines += [f"{assignment['instance']}:"] + assignment_lines(assignment)
        others = answer['alternates'].get(assignment['instance'])
        if others:
            lines.append(f"  alternates: {', '.join(others)}")
    explanation = answer.get('explanation') or {}
    lines += explanation.get('lines', [])
    if answer.get('make_room') is not None:
        lines += make_room_lines(answer['make_room'])
    return '\n'.join(lines) or json.dumps(answer)


def make_room_lines(room):
    """Readable lines of a make-room plan (explain --make-room)."""
    searched = (f"{room['hosts_searched']} host(s), {room['sets_tried']} set(s) tried in "
                f"{room['seconds'] * 1000:.1f} ms")
    if not room['found']:
        return [f"make room: {room['reason']} ({searched})"]
    if not room['moves']:
        return ['make room: no move needed, the request fits']
    lines = [f"make room on {room['target']}: {len(room['moves'])} live migration(s) "
             f"({searched})"]
    for number, move in enumerate(room['moves'], 1):
        lines.append(f"{number}. {move['instance']}: {move['source']} -> {move['destination']}")
        lines += ['   ' + line for line in assignment_lines(move['assignment'])]
    lines.append('then:')
    for assignment in room['assignments']:
        lines += [f"{assignment['instance']}:"] + assignment_lines(assignment)
    return lines


def capacity_text(answer):
    text = f"{answer['request']}: {answer['fits']} more fit"
    if answer.get('runs_out'):
        text += f"; runs out first: {answer['runs_out']} ({answer.get('example')})"
    return text


class AssignmentColumn(columns.FormattableColumn):
    def human_readable(self):
        return '\n'.join(assignment_lines(self._value)) if self._value else ''


class AttemptsColumn(columns.FormattableColumn):
    def human_readable(self):
        return '\n'.join(f"{a.get('host')}: {a.get('reason')}" for a in self._value or ())


class CellsColumn(columns.FormattableColumn):
    def human_readable(self):
        return '\n'.join(f"cell {cell['id']}: pcpus {cell['pcpus']['used']} used "
                         f"{cell['pcpus']['free']} free; pages {_pages(cell) or '-'}; "
                         f"vfs {_vfs(cell['vfs_by_physnet']) or '-'}"
                         for cell in self._value or ())


class UnknownDomainsColumn(columns.FormattableColumn):
    def human_readable(self):
        return '\n'.join(f"{d.get('name')}: {d.get('reason')}" for d in self._value or ())


class MigrationsColumn(columns.FormattableColumn):
    def human_readable(self):
        return '\n'.join(f"{m.get('kind')} {m.get('status')}: {m.get('source_host')} -> "
                         f"{m.get('dest_host') or '?'}"
                         f"{' (' + m['reason'] + ')' if m.get('reason') else ''}"
                         for m in self._value or ())


class DataColumn(columns.FormattableColumn):
    def human_readable(self):
        return json.dumps(self._value, sort_keys=True)


COLUMN_TYPES = {'assignment': AssignmentColumn, 'attempts': AttemptsColumn,
                'cells': CellsColumn, 'unknown_domains': UnknownDomainsColumn,
                'migrations': MigrationsColumn}
INSTANCE_COLUMNS = ('uuid', 'name', 'state', 'task', 'host', 'reason')
HOST_COLUMNS = ('name', 'status', 'cells', 'instances', 'unknown_domains')


def value(key, item):
    """``item[key]`` for a row: nested values wrapped so tables show them readably."""
    raw = item.get(key)
    if key in COLUMN_TYPES:
        return COLUMN_TYPES[key](raw)
    if isinstance(raw, (dict, list)):
        return DataColumn(raw)
    return raw


def column_names(items, first, long=False):
    """``first``, then (``long``) every other key the items have, sorted."""
    if not long:
        return tuple(first)
    rest = sorted({key for item in items for key in item} - set(first))
    return tuple(first) + tuple(rest)


def rows(items, names):
    return [tuple(value(key, item) for key in names) for item in items]


def with_status(host):
    """A host answer with ``status``: up or DOWN, and disabled."""
    status = ('up' if host.get('up') else 'DOWN') + ('' if host.get('enabled') else ',disabled')
    return dict(host, status=status)


def one(item, first):
    """(names, values) for a ShowOne: ``first`` then the item's other keys."""
    names = column_names([item], first, long=True)
    return names, rows([item], names)[0]
