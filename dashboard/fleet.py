"""The fleet picture: a summary, the aggregates, one row per host, one block per NUMA cell.

Input is the scheduler's ``hosts`` answer (a list of host dicts, docs/rpc-api.md).
At 10,000 hosts the page stays small and quick: the summary and the aggregate table
are computed once per ``hosts`` answer (FleetFacts, kept while the answer is), only
one page of rows (``page_size``) is drawn, and filters (name substring, aggregate,
status) and the sort narrow what is paged.
"""

import dataclasses

from dashboard.html import (
    esc,
    free_colour,
    free_fraction,
    legend,
    link,
    page,
    page_label,
    table,
    url,
)

CELL_WIDTH, CELL_HEIGHT, CELL_GAP = 212, 58, 6
STATUSES = ('up', 'down', 'disabled')
SORTS = {'name': 'name', 'free': 'most free pCPUs first', 'used': 'fewest free pCPUs first'}
NO_AGGREGATE = '(none)'


@dataclasses.dataclass(frozen=True)
class FleetQuery:
    """What the fleet page shows: filters, sort and page (from the URL's query)."""

    name: str = ''
    aggregate: str = ''
    status: str = ''
    sort: str = 'name'
    page: int = 1

    @classmethod
    def from_params(cls, params):
        """From ``{key: value}`` of the query string; unknown values fall back to defaults."""
        try:
            page = max(1, int(params.get('page', 1)))
        except ValueError:
            page = 1
        status = params.get('status', '')
        sort = params.get('sort', 'name')
        return cls(name=params.get('name', '').strip(), aggregate=params.get('aggregate', ''),
                   status=status if status in STATUSES else '',
                   sort=sort if sort in SORTS else 'name', page=page)

    def link(self, **changes):
        values = dataclasses.asdict(dataclasses.replace(self, **changes))
        return url('/', **{k: v for k, v in values.items()
                           if v != getattr(FleetQuery, k, None)})


def status_of(host):
    """'down', 'disabled' or 'up' (down first: a down host takes nothing either way)."""
    if not host.get('up'):
        return 'down'
    return 'up' if host.get('enabled') else 'disabled'


def selected(hosts, query):
    """The hosts the query keeps, in its order."""
    kept = [h for h in hosts
            if (not query.name or query.name in h['name'])
            and (not query.status or status_of(h) == query.status)
            and (not query.aggregate or query.aggregate in _aggregates(h))]
    if query.sort == 'name':
        return sorted(kept, key=lambda h: h['name'])
    sign = -1 if query.sort == 'free' else 1
    return sorted(kept, key=lambda h: (sign * _free_pcpus(h), h['name']))


def _aggregates(host):
    return host.get('aggregates') or [NO_AGGREGATE]


def _free_pcpus(host):
    return sum(cell['pcpus']['free'] for cell in host['cells'])


# -- summary ------------------------------------------------------------------
def summarise(hosts):
    """Totals over ``hosts``: counts by status, pCPUs, pages by size, VFs by physnet."""
    totals = {'hosts': 0, 'up': 0, 'down': 0, 'disabled': 0, 'instances': 0,
              'pcpus': [0, 0], 'pages': {}, 'vfs': {}}
    for host in hosts:
        totals['hosts'] += 1
        totals[status_of(host)] += 1
        totals['instances'] += host.get('instances') or 0
        for cell in host['cells']:
            _add(totals['pcpus'], cell['pcpus'])
            for size, pool in cell['pages'].items():
                _add(totals['pages'].setdefault(int(size), [0, 0]), pool)
        for net, vfs in host['vfs_by_physnet'].items():
            _add(totals['vfs'].setdefault(net, [0, 0]), vfs)
    return totals


def _add(pair, counts):
    pair[0] += counts['free']
    pair[1] += counts['total']


def by_aggregate(hosts):
    """{aggregate: summary} (a host in several aggregates counts in each)."""
    groups = {}
    for host in hosts:
        for name in _aggregates(host):
            groups.setdefault(name, []).append(host)
    return {name: summarise(members) for name, members in sorted(groups.items())}


def _free_of(pair):
    free, total = pair
    swatch = free_colour(free_fraction(free, total))
    return (f'<svg class="swatch" width="12" height="12" aria-hidden="true"><rect width="12" '
            f'height="12" fill="{swatch}"/></svg> {free}/{total}')


def summary_table(totals):
    rows = [('hosts', f"{totals['hosts']} ({totals['up']} up, {totals['down']} down, "
                      f"{totals['disabled']} disabled)"),
            ('instances', totals['instances']), ('pCPUs free', _free_of(totals['pcpus']))]
    rows += [(f"{page_label(size)} pages free", _free_of(pair))
             for size, pair in sorted(totals['pages'].items())]
    rows += [(f"VFs free on {esc(net)}", _free_of(pair))
             for net, pair in sorted(totals['vfs'].items())]
    return table(('', 'fleet'), [(esc(label), value) for label, value in rows], 'summary')


def aggregate_table(groups, query=None):
    """One row per aggregate; a link to its hosts unless offline (``query`` None)."""
    rows = []
    for name, totals in groups.items():
        title = esc(name) if query is None else \
            f'<a href="{esc(query.link(aggregate=name, page=1))}">{esc(name)}</a>'
        pages = ' '.join(f"{page_label(size)} {_free_of(pair)}"
                         for size, pair in sorted(totals['pages'].items()))
        vfs = ' '.join(f"{esc(net)} {_free_of(pair)}"
                       for net, pair in sorted(totals['vfs'].items()))
        rows.append((title, totals['hosts'], totals['up'], totals['down'] + totals['disabled'],
                     _free_of(totals['pcpus']), pages or '-', vfs or '-'))
    return table(('aggregate', 'hosts', 'up', 'down or disabled', 'pCPUs free', 'pages free',
                  'VFs free'), rows, 'aggregates')


# -- rows -----------------------------------------------------------------------
def cell_block(cell, x):
    """One NUMA cell as an SVG group: filled by its free pCPU fraction, with the numbers."""
    pcpus = cell['pcpus']
    fraction = free_fraction(pcpus['free'], pcpus['total'])
    pages = ' '.join(f"{page_label(size)} {p['free']}/{p['total']}"
                     for size, p in cell['pages'].items())
    vfs = ' '.join(f"{net} {v['free']}/{v['total']}" for net, v in cell['vfs_by_physnet'].items())
    lines = [f"cell {cell['id']}  pCPU {pcpus['free']}/{pcpus['total']} free",
             f"pages {pages or '-'}", f"VFs {vfs or '-'}"]
    texts = ''.join(f'<text x="6" y="{15 + 16 * i}">{esc(line)}</text>'
                    for i, line in enumerate(lines))
    shown = '' if fraction is None else f'{fraction:.2f}'
    return (f'<g class="cell" data-cell="{esc(cell["id"])}" data-free="{shown}" '
            f'transform="translate({x},0)"><title>{esc("; ".join(lines))}</title>'
            f'<rect class="cell-bg" width="{CELL_WIDTH}" height="{CELL_HEIGHT}" rx="4" '
            f'fill="{free_colour(fraction)}"/>{texts}</g>')


def cells_svg(cells):
    width = max(1, len(cells)) * (CELL_WIDTH + CELL_GAP)
    blocks = ''.join(cell_block(cell, i * (CELL_WIDTH + CELL_GAP))
                     for i, cell in enumerate(cells))
    return (f'<svg class="cells" width="{width}" height="{CELL_HEIGHT}" role="img" '
            f'aria-label="NUMA cells">{blocks}</svg>')


def host_row(host, offline=False):
    status = status_of(host)
    name = esc(host['name']) if offline else link(f"/host/{host['name']}", host['name'])
    aggregates = ', '.join(esc(a) for a in host.get('aggregates') or ()) or '-'
    return (f'<tr class="host {status}" data-host="{esc(host["name"])}"><td>{name}</td>'
            f'<td class="status">{status}</td><td>{esc(host.get("instances") or 0)}</td>'
            f'<td>{aggregates}</td><td>{cells_svg(host["cells"])}</td></tr>')


def host_rows(hosts, offline=False):
    body = ''.join(host_row(h, offline) for h in hosts)
    return ('<table class="fleet"><thead><tr><th>host</th><th>status</th><th>instances</th>'
            f'<th>aggregates</th><th>NUMA cells</th></tr></thead><tbody>{body}</tbody></table>')


# -- the page -----------------------------------------------------------------
def _options(values, chosen):
    return ''.join(f'<option value="{esc(value)}"{" selected" if value == chosen else ""}>'
                   f'{esc(text)}</option>' for value, text in values)


def filter_form(query, aggregates):
    statuses = [('', 'any status')] + [(s, s) for s in STATUSES]
    groups = [('', 'any aggregate')] + [(a, a) for a in aggregates]
    return (f'<form class="filters" method="get" action="/">'
            f'<label>name contains <input name="name" value="{esc(query.name)}"></label> '
            f'<label>aggregate <select name="aggregate">{_options(groups, query.aggregate)}'
            f'</select></label> <label>status <select name="status">'
            f'{_options(statuses, query.status)}</select></label> '
            f'<label>sort <select name="sort">{_options(SORTS.items(), query.sort)}</select>'
            f'</label> <button type="submit">Show</button></form>')


def pager(query, page, pages, count):
    parts = [f'<span class="count">{count} hosts, page {page} of {pages}</span>']
    if page > 1:
        parts.insert(0, f'<a rel="prev" href="{esc(query.link(page=page - 1))}">previous</a>')
    if page < pages:
        parts.append(f'<a rel="next" href="{esc(query.link(page=page + 1))}">next</a>')
    return '<p class="pager">' + ' '.join(parts) + '</p>'


@dataclasses.dataclass(frozen=True)
class FleetFacts:
    """What every view of one ``hosts`` answer shares, computed once: the summary and
    the aggregates (the dashboard keeps it while it keeps the answer)."""

    hosts: list
    totals: dict
    groups: dict

    @classmethod
    def of(cls, hosts):
        return cls(hosts, summarise(hosts), by_aggregate(hosts))


def fleet_body(facts, query, page_size):
    """The dashboard's fleet page: summary, aggregates, filters, one page of host rows."""
    hosts, groups = facts.hosts, facts.groups
    chosen = selected(hosts, query)
    pages = max(1, -(-len(chosen) // page_size))
    number = min(query.page, pages)
    shown = chosen[(number - 1) * page_size:number * page_size]
    navigation = pager(query, number, pages, len(chosen))
    return (summary_table(facts.totals) + legend()
            + _aggregates_section(groups, query)
            + filter_form(query, [name for name in groups if name != NO_AGGREGATE])
            + navigation + host_rows(shown) + navigation)


def _aggregates_section(groups, query):
    if not groups or list(groups) == [NO_AGGREGATE]:
        return ''
    return '<h2>Aggregates</h2>' + aggregate_table(groups, query)


def fleet_document(hosts, title='Fleet', before=''):
    """A whole offline page of every host (``kvmfleet hosts --fleet F --format html``)."""
    hosts = sorted(hosts, key=lambda h: h['name'])
    groups = by_aggregate(hosts)
    aggregates = '' if list(groups) in ([], [NO_AGGREGATE]) else \
        '<h2>Aggregates</h2>' + aggregate_table(groups)
    body = (before + summary_table(summarise(hosts)) + legend() + aggregates
            + f'<h2>Hosts</h2>{host_rows(hosts, offline=True)}')
    return page(title, body, offline=True)
