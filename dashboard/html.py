"""HTML building blocks: escaping, the page frame, colours by free fraction.

Every text that reaches the page passes through ``esc`` (host and instance names are
untrusted: an agent names its host, an operator names an instance).  Pages carry no
script; the service also forbids any with its Content-Security-Policy.
"""

import html
import importlib.resources
import urllib.parse

from wire.topology import page_label as _page_label

# Free fraction -> fill colour: red (nothing free) to green (all free).  A bucket's
# lower bound, its colour and the word the legend shows.
FREE_BUCKETS = ((1.0, '#66bd63', 'all free'), (0.75, '#a6d96a', '75% free or more'),
                (0.5, '#d9ef8b', '50% free or more'), (0.25, '#fee08b', '25% free or more'),
                (1e-9, '#fdae61', 'under 25% free'), (0.0, '#f46d43', 'none free'))
NO_CAPACITY = '#d9d9d9'


def esc(value):
    """``value`` as text safe in HTML content and in quoted attributes."""
    return html.escape(str(value), quote=True)


def url(path, **query):
    """A link: ``path`` (its parts quoted) with the non-empty ``query`` values."""
    parts = '/'.join(urllib.parse.quote(str(part), safe='') for part in path.split('/'))
    pairs = [(k, v) for k, v in query.items() if v not in (None, '')]
    return parts + ('?' + urllib.parse.urlencode(pairs) if pairs else '')


def link(path, text, **query):
    return f'<a href="{esc(url(path, **query))}">{esc(text)}</a>'


def free_fraction(free, total):
    """free/total, or None when there is nothing to have free."""
    return None if not total else max(0.0, min(1.0, free / total))


def free_colour(fraction):
    """The fill colour of a free fraction (None: grey, the cell has none)."""
    if fraction is None:
        return NO_CAPACITY
    for lower, colour, _ in FREE_BUCKETS:
        if fraction >= lower:
            return colour
    return FREE_BUCKETS[-1][1]


def legend():
    """The colour key of the free fractions."""
    items = ''.join(f'<li><svg width="14" height="14" aria-hidden="true"><rect width="14" '
                    f'height="14" fill="{colour}"/></svg> {esc(word)}</li>'
                    for _, colour, word in FREE_BUCKETS)
    return f'<ul class="legend">{items}<li><svg width="14" height="14" aria-hidden="true">' \
           f'<rect width="14" height="14" fill="{NO_CAPACITY}"/></svg> none there</li></ul>'


def stylesheet():
    """The package's CSS text (inlined in offline files)."""
    return importlib.resources.files('dashboard').joinpath('dashboard.css').read_text()


NAV = (('/', 'Fleet'), ('/instances', 'Instances'), ('/explain', 'Explain'))


def page(title, body, offline=False):
    """A whole HTML document.  ``offline``: the CSS inlined and no navigation (a file)."""
    if offline:
        head_css, nav = f'<style>{stylesheet()}</style>', ''
    else:
        head_css = '<link rel="stylesheet" href="/static/dashboard.css">'
        nav = '<nav>' + ' '.join(link(path, text) for path, text in NAV) + '</nav>'
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{esc(title)} - kvmfleet</title>{head_css}</head>'
            f'<body><header><span class="brand">kvmfleet</span>{nav}</header>'
            f'<main><h1>{esc(title)}</h1>{body}</main></body></html>\n')


def table(headers, rows, css_class=''):
    """A table; ``rows`` hold HTML already escaped (use ``esc`` on text)."""
    head = ''.join(f'<th>{esc(h)}</th>' for h in headers)
    head = f'<thead><tr>{head}</tr></thead>' if any(headers) else ''
    body = ''.join('<tr>' + ''.join(f'<td>{cell}</td>' for cell in row) + '</tr>'
                   for row in rows)
    return f'<table class="{esc(css_class)}">{head}<tbody>{body}</tbody></table>'


def page_label(size_kb):
    """'2M', '1G', '4K' for a page size in KiB given as text or int."""
    return _page_label(int(size_kb))
