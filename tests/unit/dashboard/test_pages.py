import pytest

from dashboard import pages
from tests.unit.dashboard.fixtures import HOSTILE, host_detail, record


@pytest.mark.parametrize('text, request_', [
    ('{"hw:cpu_policy": "dedicated"}',
     {'name': 'explain', 'vcpus': 2, 'memory_mb': 1024,
      'extra_specs': {'hw:cpu_policy': 'dedicated'}}),
    ('{"flavor": "pinned.small"}', {'name': 'explain', 'flavor': 'pinned.small'}),
    ('{"name": "db", "vcpus": 4, "memory_mb": 8}', {'name': 'db', 'vcpus': 4, 'memory_mb': 8}),
])
def test_the_explain_form_takes_a_request_or_extra_specs_alone(text, request_):
    assert pages.explain_request(text, '2', '1024') == request_


@pytest.mark.parametrize('text, vcpus, rule', [
    ('', '2', 'paste a request or extra specs'),
    ('{"a": ', '2', 'not JSON'),
    ('[1]', '2', 'expected a JSON object'),
    ('{"hw:cpu_policy": "dedicated"}', 'two', 'whole numbers'),
])
def test_bad_explain_input_says_what_is_wrong(text, vcpus, rule):
    with pytest.raises(ValueError, match=rule):
        pages.explain_request(text, vcpus, '1024')


def test_an_explain_answer_shows_where_or_why_not():
    detail = host_detail()
    placed = {'assignments': [detail['topology']['instances'][0]['assignment']],
              'alternates': {'uuid-1': ['host-0001']}, 'explanation': None}
    text = pages.explain_answer(placed)
    assert 'Would go to <a href="/host/host-0000">' in text and 'alternates: host-0001' in text
    nowhere = {'assignments': [], 'alternates': {}, 'explanation': {
        'reasons': {'NUMA_CELL_NO_FREE_PCPUS': 2},
        'nearest': [{'text': 'host-0000 cell 0: 3 free dedicated pCPUs, needs 4'}]}}
    text = pages.explain_answer(nowhere)
    assert 'No valid host' in text and 'NUMA_CELL_NO_FREE_PCPUS' in text
    assert '<li>host-0000 cell 0: 3 free dedicated pCPUs, needs 4</li>' in text


def test_the_instance_page_escapes_its_name_and_draws_its_threads():
    body = pages.instance_body(record(), host_detail())
    assert '<script>' not in body
    assert 'data-instance="uuid-1"' in body and '0→0, 1→2' in body


def test_the_host_page_lists_its_instances_escaped():
    body = pages.host_body(host_detail())
    assert '&lt;script&gt;alert(1)&lt;/script&gt;&amp;&quot;' in body and HOSTILE not in body
    assert '<td>0,2</td>' in body


def test_the_instance_list_keeps_names_containing_the_filter():
    records = [record(name='web-1'), dict(record(name=HOSTILE), uuid='uuid-2')]
    body = pages.instances_body(records, name='script')
    assert '1 instances' in body and 'uuid-2' in body and 'web-1' not in body
    assert '<option value="ACTIVE">' in body


def test_the_simulation_section_lists_placed_and_failed_requests():
    outcomes = [{'index': 0, 'request': HOSTILE, 'placed': True, 'instances': [
        {'instance': 'a-0', 'host': 'host-0000', 'assignment': record()['assignment']}]},
        {'index': 1, 'request': 'big', 'placed': False, 'instances': [],
         'reasons': {'NUMA_CELL_NO_FREE_PCPUS': 3}}]
    text = pages.simulation_section(outcomes, {'placed': 1, 'failed': 1})
    assert 'placed 1, failed 1' in text and '<td>0,2</td>' in text
    assert 'not placed: 3 NUMA_CELL_NO_FREE_PCPUS' in text and '<script>' not in text
