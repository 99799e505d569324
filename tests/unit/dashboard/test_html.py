import pytest

from dashboard import html


@pytest.mark.parametrize('free, total, colour', [
    (8, 8, '#66bd63'), (6, 8, '#a6d96a'), (4, 8, '#d9ef8b'), (2, 8, '#fee08b'),
    (1, 8, '#fdae61'), (0, 8, '#f46d43'), (0, 0, html.NO_CAPACITY),
])
def test_a_free_fraction_picks_its_bucket_colour(free, total, colour):
    assert html.free_colour(html.free_fraction(free, total)) == colour


def test_text_and_attributes_are_escaped():
    assert html.esc('<a href="x">&\'') == '&lt;a href=&quot;x&quot;&gt;&amp;&#x27;'


def test_links_quote_path_parts_and_drop_empty_query_values():
    assert html.url('/host/a b/<x>', page=2, name='', q='&') == \
        '/host/a%20b/%3Cx%3E?page=2&q=%26'
    assert html.link('/host/h', '<b>') == '<a href="/host/h">&lt;b&gt;</a>'


def test_an_offline_page_inlines_the_stylesheet_and_has_no_navigation():
    offline = html.page('T', '<p>x</p>', offline=True)
    assert '<style>' in offline and 'href="/static' not in offline and '<nav>' not in offline
    served = html.page('T', '<p>x</p>')
    assert 'href="/static/dashboard.css"' in served and '<nav>' in served
    assert '<script' not in offline + served
