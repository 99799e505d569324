import re

import pytest

from dashboard import fleet
from tests.unit.dashboard.fixtures import HOSTILE, hosts_answer


def test_the_query_falls_back_to_defaults_on_unknown_values():
    query = fleet.FleetQuery.from_params({'page': 'x', 'status': 'gone', 'sort': 'drop'})
    assert query == fleet.FleetQuery()
    query = fleet.FleetQuery.from_params({'page': '3', 'status': 'down', 'sort': 'free',
                                          'name': ' 01 ', 'aggregate': 'az1'})
    assert query == fleet.FleetQuery('01', 'az1', 'down', 'free', 3)
    assert query.link(page=4) == '/?name=01&aggregate=az1&status=down&sort=free&page=4'


def test_filters_and_sorts_select_hosts():
    hosts = hosts_answer(4)
    hosts[1] = dict(hosts[1], up=False)
    hosts[2] = dict(hosts[2], enabled=False, aggregates=['az1'])
    hosts[3]['cells'][0]['pcpus'] = {'total': 8, 'used': 8, 'free': 0}
    names = lambda **q: [h['name'] for h in fleet.selected(hosts, fleet.FleetQuery(**q))]  # noqa
    assert names(status='down') == ['host-0001']
    assert names(status='disabled') == ['host-0002'] == names(aggregate='az1')
    assert names(aggregate=fleet.NO_AGGREGATE) == ['host-0000', 'host-0001', 'host-0003']
    assert names(name='03') == ['host-0003']
    assert names(sort='used')[0] == 'host-0003' and names(sort='free')[-1] == 'host-0003'


def test_the_summary_adds_up_every_cell():
    hosts = hosts_answer(3)
    hosts[0] = dict(hosts[0], up=False)
    totals = fleet.summarise(hosts)
    assert (totals['hosts'], totals['up'], totals['down'], totals['disabled']) == (3, 2, 1, 0)
    assert totals['pcpus'] == [48, 48]
    assert totals['pages'] == {2048: [6144, 6144]} and totals['vfs'] == {'physnet1': [12, 12]}


def test_each_cell_block_is_coloured_by_its_free_pcpus():
    [host] = hosts_answer(1)
    host['cells'][1]['pcpus'] = {'total': 8, 'used': 6, 'free': 2}
    row = fleet.host_row(host)
    blocks = re.findall(r'<g class="cell" data-cell="(\d)" data-free="([\d.]+)".*?'
                        r'fill="(#\w+)"', row)
    assert blocks == [('0', '1.00', '#66bd63'), ('1', '0.25', '#fee08b')]
    assert 'pCPU 2/8 free' in row and 'pages 2M 1024/1024' in row and 'VFs physnet1 2/2' in row


def test_down_and_disabled_hosts_are_marked():
    hosts = hosts_answer(2)
    hosts[0], hosts[1] = dict(hosts[0], up=False), dict(hosts[1], enabled=False)
    rows = fleet.host_rows(hosts)
    assert '<tr class="host down" data-host="host-0000">' in rows
    assert '<tr class="host disabled" data-host="host-0001">' in rows


def test_a_page_draws_only_its_rows_and_links_to_its_neighbours():
    hosts = hosts_answer(25)
    body = fleet.fleet_body(fleet.FleetFacts.of(hosts), fleet.FleetQuery(page=2), page_size=10)
    assert re.findall(r'data-host="(host-\d+)"', body) == [f"host-{i:04d}" for i in range(10, 20)]
    assert 'rel="prev" href="/"' in body and 'rel="next" href="/?page=3"' in body
    assert '25 hosts, page 2 of 3' in body
    assert 'hosts</td><td>25 (25 up' in body                 # the summary covers all


def test_names_and_aggregates_are_escaped_everywhere():
    hosts = hosts_answer(1)
    hosts[0] = dict(hosts[0], name='h"><x', aggregates=[HOSTILE])
    for text in (fleet.fleet_body(fleet.FleetFacts.of(hosts), fleet.FleetQuery(), 10),
                 fleet.fleet_document(hosts)):
        assert '<script>' not in text and '"><x' not in text
        assert '&lt;script&gt;alert(1)&lt;/script&gt;&amp;&quot;' in text


@pytest.mark.parametrize('count', [1, 30])
def test_the_offline_document_draws_every_host(count):
    document = fleet.fleet_document(hosts_answer(count), 'Plan')
    assert len(re.findall(r'<tr class="host up"', document)) == count
    assert '<title>Plan - kvmfleet</title>' in document and 'href="/host/' not in document
