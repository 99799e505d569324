"""Text tables for the local commands (aligned columns, one row per item)."""

from scheduler.fitting.reasons import page_label
from wire.cpuset import format_cpuset


def table(headers, rows):
    """Left-aligned columns separated by two spaces; the last column is not padded."""
    cells = [list(map(str, headers))] + [[str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for row in cells:
        padded = [value.ljust(widths[i]) for i, value in enumerate(row[:-1])] + [row[-1]]
        lines.append('  '.join(padded).rstrip())
    return '\n'.join(lines)


def _instance_columns(assignment):
    """CELLS, PAGES, PINNED, EMULATOR, PCI of one assignment dict."""
    cells = assignment['cells']
    placed = ','.join(f"{c['guest_cell']}->{c['host_cell']}" for c in cells) or 'floating'
    pages = ','.join(sorted({page_label(c['page_size_kb']) for c in cells})) or '4K'
    pinned = format_cpuset(p for c in cells for p in c['pinning'].values()) or '-'
    emulator = format_cpuset(assignment['emulator_pcpus']) or '-'
    pci = ','.join(d['address'] for d in assignment['pci_devices']) or '-'
    return placed, pages, pinned, emulator, pci


def simulate_table(outcomes, summary, explain=False):
    """The placement table, then (with ``explain``) why each failed request failed."""
    headers = ('#', 'REQUEST', 'INSTANCE', 'HOST', 'CELLS', 'PAGES', 'PINNED', 'EMULATOR',
               'PCI', 'MS', 'RESULT')
    rows, notes = [], []
    for outcome in outcomes:
        ms = '' if outcome['decision_ms'] is None else f"{outcome['decision_ms']:.2f}"
        for entry in outcome['instances']:
            rows.append((outcome['index'], outcome['request'], entry['instance'],
                         entry['host'], *_instance_columns(entry['assignment']), ms, 'placed'))
            ms = ''
        if not outcome['placed']:
            result = _failure_text(outcome)
            rows.append((outcome['index'], outcome['request'], '-', '-', '-', '-', '-', '-',
                         '-', ms, result))
            notes.extend(_failure_notes(outcome) if explain else [])
    text = table(headers, rows)
    text += '\n\n' + _summary_text(summary)
    if notes:
        text += '\n\n' + '\n'.join(notes)
    return text


def _failure_text(outcome):
    if 'errors' in outcome:
        return f"invalid: {len(outcome['errors'])} error(s)"
    reasons = outcome['explanation']['reasons']
    top = next(iter(reasons), 'no hosts')
    return f"no valid host ({top} on {reasons.get(top, 0)} of " \
           f"{outcome['explanation']['hosts']})"


def _failure_notes(outcome):
    head = f"request {outcome['index']} ({outcome['request']}):"
    if 'errors' in outcome:
        return [head] + [f"  invalid: {e['field']}: {e['rule']}" for e in outcome['errors']]
    explanation = outcome['explanation']
    counts = ', '.join(f"{n} {r}" for r, n in explanation['reasons'].items())
    lines = [head, f"  no valid host among {explanation['hosts']} hosts: {counts}"]
    lines += [f"  nearest miss: {miss['text']}" for miss in explanation['nearest']]
    return lines


def _summary_text(summary):
    first = summary['first_failure_index']
    return (f"placed {summary['placed']}, failed {summary['failed']}"
            f"{'' if first is None else f' (first failure: request {first})'}; "
            f"decision p50 {summary['decision_p50_ms']} ms, p99 {summary['decision_p99_ms']} ms")


def capacity_table(results, invalid):
    """One row per shape; invalid requests listed after."""
    headers = ('REQUEST', 'VCPUS', 'MEMORY_MB', 'MORE_FIT', 'RUNS_OUT_FIRST', 'EXAMPLE')
    rows = [(r['request'], r['vcpus'], r['memory_mb'], r['fits'], r['runs_out'] or '-',
             r['example'] or '-') for r in results]
    text = table(headers, rows)
    for item in invalid:
        errors = '; '.join(f"{e['field']}: {e['rule']}" for e in item['errors'])
        text += f"\ninvalid request {item['index']} ({item['request']}): {errors}"
    return text
