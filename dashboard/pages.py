"""The dashboard's pages other than the fleet: a host, an instance, the instance list and
the explain form.  Each takes the scheduler's answers (plain dicts) and returns HTML."""

import json
import time

from dashboard.cells import cells_section
from dashboard.html import esc, link, page_label, table

INSTANCE_STATES = ('BUILDING', 'ACTIVE', 'STOPPED', 'ERROR', 'DELETED')
REQUEST_KEYS = frozenset(('name', 'vcpus', 'memory_mb', 'flavor', 'extra_specs',
                          'image_properties', 'ports', 'count', 'min_count', 'image',
                          'server_group'))
EXPLAIN_EXAMPLE = '{"hw:cpu_policy": "dedicated", "hw:mem_page_size": "2MB"}'


def _when(stamp):
    if not stamp:
        return '-'
    return time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(stamp))


def _pins(assignment):
    pcpus = sorted(p for cell in (assignment or {}).get('cells', ())
                   for p in cell['pinning'].values())
    return ','.join(map(str, pcpus)) or '-'


# -- host -----------------------------------------------------------------------
def host_body(detail):
    """The host page: its state, each cell drawn thread by thread, its instances."""
    status = ('up' if detail.get('up') else 'DOWN') + \
        ('' if detail.get('enabled') else ', disabled')
    facts = [('status', esc(status)), ('last report', esc(_when(detail.get('last_heartbeat')))),
             ('instances', esc(detail.get('instances') or 0)),
             ('aggregates', esc(', '.join(detail.get('aggregates') or ()) or '-'))]
    facts += [('unknown domain', esc(f"{d.get('name')}: {d.get('reason')}"))
              for d in detail.get('unknown_domains') or ()]
    instances = sorted(detail['topology'].get('instances', ()),
                       key=lambda i: (i['name'], i['uuid']))
    rows = [(link(f"/instance/{i['uuid']}", i['name']), esc(i['uuid']),
             esc(i['assignment']['vcpus']), esc(_pins(i['assignment'])))
            for i in instances]
    held = table(('instance', 'uuid', 'vCPUs', 'pinned pCPUs'), rows, 'instances') \
        if rows else '<p class="none">No instances.</p>'
    return (table(('', ''), facts, 'facts') + cells_section(detail)
            + '<h2>Instances on this host</h2>' + held)


# -- instance -------------------------------------------------------------------
def assignment_table(assignment):
    """One row per guest cell: where it sits, its pins, its memory; then emulator and PCI."""
    rows = []
    for cell in assignment['cells']:
        pins = ', '.join(f"{v}→{p}" for v, p in
                         sorted(cell['pinning'].items(), key=lambda kv: int(kv[0])))
        rows.append((esc(f"guest cell {cell['guest_cell']}"),
                     esc(f"host cell {cell['host_cell']}"), esc(pins or 'floating'),
                     esc(f"{cell['memory_mb']} MiB in {page_label(cell['page_size_kb'])} pages"),
                     esc(','.join(map(str, cell.get('reserved_pcpus') or ())) or '-')))
    text = table(('guest', 'host', 'vCPU → pCPU', 'memory', 'isolate siblings held'), rows,
                 'assignment') if rows else '<p>No NUMA topology: the guest floats.</p>'
    extras = [('emulator threads', ','.join(map(str, assignment['emulator_pcpus'])) or '-'),
              ('shared pCPUs', ','.join(map(str, assignment['shared_cpus'])) or '-')]
    extras += [('PCI ' + pci['address'],
                f"cell {pci['host_cell']}, {pci['request']}"
                f"{', ' + pci['physical_network'] if pci.get('physical_network') else ''}")
               for pci in assignment['pci_devices']]
    return text + table(('', ''), [(esc(k), esc(v)) for k, v in extras], 'facts')


def instance_body(record, detail=None):
    """The instance page: its record, its assignment, drawn on its host's cells."""
    host = link(f"/host/{record['host']}", record['host']) if record.get('host') else '-'
    facts = [('uuid', esc(record['uuid'])), ('state', esc(record['state'])),
             ('task', esc(record.get('task') or '-')), ('host', host),
             ('reason', esc(record.get('reason') or '-')),
             ('created', esc(_when(record.get('created_at'))))]
    facts += [('attempt', esc(f"{a.get('host')}: {a.get('reason')}"))
              for a in record.get('attempts') or ()]
    body = table(('', ''), facts, 'facts')
    if record.get('assignment'):
        body += '<h2>Assignment</h2>' + assignment_table(record['assignment'])
    if detail is not None:
        body += f'<h2>On {esc(detail["name"])}</h2>' + cells_section(detail, record['uuid'])
    return body


# -- instance list ----------------------------------------------------------------
def instances_body(records, host='', state='', name=''):
    """The instance list with its filter form (host, state, name substring)."""
    states = ''.join(f'<option value="{s}"{" selected" if s == state else ""}>{s}</option>'
                     for s in ('',) + INSTANCE_STATES)
    form = (f'<form class="filters" method="get" action="/instances">'
            f'<label>host <input name="host" value="{esc(host)}"></label> '
            f'<label>state <select name="state">{states}</select></label> '
            f'<label>name contains <input name="name" value="{esc(name)}"></label> '
            f'<button type="submit">Show</button></form>')
    kept = sorted((r for r in records if name in r['name']),
                  key=lambda r: (r['name'], r['uuid']))
    rows = [(link(f"/instance/{r['uuid']}", r['name']), esc(r['uuid']), esc(r['state']),
             esc(r.get('task') or '-'),
             link(f"/host/{r['host']}", r['host']) if r.get('host') else '-',
             esc(_pins(r.get('assignment')))) for r in kept]
    return form + f'<p class="count">{len(kept)} instances</p>' + table(
        ('name', 'uuid', 'state', 'task', 'host', 'pinned pCPUs'), rows, 'instance-list')


# -- explain --------------------------------------------------------------------
def explain_request(text, vcpus, memory_mb):
    """The request to explain from the form: a whole request, or extra specs alone.

    Raises ValueError naming what is wrong; the scheduler checks the rest.
    """
    if not text.strip():
        raise ValueError('paste a request or extra specs (a JSON object)')
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError('expected a JSON object: a request or extra specs')
    if REQUEST_KEYS & set(data):
        return dict({'name': 'explain'}, **data)
    try:
        size = {'vcpus': int(vcpus), 'memory_mb': int(memory_mb)}
    except ValueError:
        raise ValueError('vCPUs and memory must be whole numbers with extra specs alone')
    return dict({'name': 'explain', 'extra_specs': data}, **size)


def explain_form(text='', vcpus='2', memory_mb='1024'):
    return (f'<form class="explain" method="get" action="/explain">'
            f'<label>request or extra specs (JSON)<br><textarea name="request" rows="8" '
            f'cols="72" placeholder="{esc(EXPLAIN_EXAMPLE)}">{esc(text)}</textarea></label><br>'
            f'<label>vCPUs <input name="vcpus" value="{esc(vcpus)}" size="4"></label> '
            f'<label>memory MiB <input name="memory_mb" value="{esc(memory_mb)}" size="7">'
            f'</label> <span class="hint">(used when only extra specs are given)</span> '
            f'<button type="submit">Explain</button></form>')


def explain_answer(answer):
    """Where it would go (assignments, alternates), or why not (reasons, nearest misses)."""
    parts = []
    for assignment in answer.get('assignments') or ():
        alternates = (answer.get('alternates') or {}).get(assignment['instance']) or ()
        parts.append(f'<h2 class="verdict fits">Would go to '
                     f'{link("/host/" + assignment["host"], assignment["host"])}</h2>'
                     + assignment_table(assignment)
                     + (f'<p>alternates: {esc(", ".join(alternates))}</p>' if alternates else ''))
    explanation = answer.get('explanation') or {}
    if not answer.get('assignments'):
        parts.append('<h2 class="verdict nowhere">No valid host</h2>')
    reasons = explanation.get('reasons') or {}
    if reasons:
        parts.append('<h3>Hosts ruled out, by reason</h3>'
                     + table(('reason', 'hosts'), [(esc(r), esc(n)) for r, n in reasons.items()],
                             'reasons'))
    nearest = explanation.get('nearest') or ()
    if nearest:
        parts.append('<h3>Nearest misses</h3><ul class="nearest">'
                     + ''.join(f'<li>{esc(m["text"])}</li>' for m in nearest) + '</ul>')
    return ''.join(parts)


def error_body(message):
    return f'<p class="error">{esc(message)}</p>'


# -- simulation (offline) ----------------------------------------------------------
def simulation_section(outcomes, summary):
    """What ``kvmfleet simulate -f html`` shows above the fleet: each request's outcome."""
    rows = []
    for outcome in outcomes:
        for entry in outcome['instances']:
            rows.append((esc(outcome['index']), esc(outcome['request']), esc(entry['instance']),
                         esc(entry['host']), esc(_pins(entry['assignment'])), 'placed'))
        if not outcome['placed']:
            reasons = ', '.join(f"{n} {r}" for r, n in (outcome.get('reasons') or {}).items())
            rows.append((esc(outcome['index']), esc(outcome['request']), '-', '-', '-',
                         esc(f"not placed: {reasons or 'invalid'}")))
    counts = esc(f"placed {summary['placed']}, failed {summary['failed']}")
    return (f'<h2>Requests</h2><p class="count">{counts}</p>'
            + table(('#', 'request', 'instance', 'host', 'pinned pCPUs', 'result'), rows,
                    'simulation') + '<h2>Fleet after the requests</h2>')
