import io

import oslo_messaging as messaging
import pytest

from dashboard.app import Dashboard
from dashboard.source import SchedulerSource
from tests.unit.dashboard.fixtures import HOSTILE, host_detail, hosts_answer, record
from wire import rpc


class FakeAPI:
    """The SchedulerAPI methods the dashboard calls, answering fixtures."""

    def __init__(self):
        self.calls = []
        self.failure = None

    def _answer(self, name, value):
        self.calls.append(name)
        if self.failure is not None:
            raise self.failure
        return value

    def hosts(self):
        return self._answer('hosts', {'hosts': hosts_answer(3)})

    def host_detail(self, host):
        if host != 'host-0000':
            raise rpc.BusError(rpc.NOT_FOUND, f"host {host} is not known")
        return self._answer('host_detail', host_detail())

    def show(self, instance):
        return self._answer('show', record())

    def list(self, state=None, host=None):
        return self._answer('list', {'instances': [record()]})

    def explain(self, request):
        self.calls.append(('explain', request))
        return {'assignments': [], 'alternates': {}, 'explanation': {
            'reasons': {'NUMA_CELL_NO_FREE_PCPUS': 3}, 'nearest': []}}


@pytest.fixture
def api():
    return FakeAPI()


def get(app, path, query='', method='GET'):
    seen = {}

    def start_response(status, headers):
        seen.update(status=status, headers=dict(headers))
    body = b''.join(app({'REQUEST_METHOD': method, 'PATH_INFO': path, 'QUERY_STRING': query,
                         'wsgi.input': io.BytesIO()}, start_response))
    return seen['status'], seen['headers'], body.decode()


@pytest.mark.parametrize('path, query, title', [
    ('/', '', 'Fleet'), ('/host/host-0000', '', 'Host host-0000'),
    ('/instance/uuid-1', '', 'Instance &lt;script&gt;'),
    ('/instances', 'state=ACTIVE', 'Instances'),
    ('/explain', '', 'Explain'),
])
def test_every_page_answers_html_without_script(api, path, query, title):
    status, headers, body = get(Dashboard(SchedulerSource(api)), path, query)
    assert status == '200 OK' and headers['Content-Type'] == 'text/html; charset=utf-8'
    assert f"<h1>{title}" in body and '<script' not in body
    assert "default-src 'none'" in headers['Content-Security-Policy']
    assert headers['X-Content-Type-Options'] == 'nosniff'


@pytest.mark.parametrize('path, method, status', [
    ('/nowhere', 'GET', '404 Not Found'), ('/host/elsewhere', 'GET', '404 Not Found'),
    ('/host/', 'GET', '404 Not Found'), ('/host/a/b', 'GET', '404 Not Found'),
    ('/static/other.js', 'GET', '404 Not Found'), ('/', 'POST', '405 Method Not Allowed'),
])
def test_what_is_not_a_page_is_an_error_page(api, path, method, status):
    answer_status, _, body = get(Dashboard(SchedulerSource(api)), path, method=method)
    assert answer_status == status and '<p class="error">' in body


@pytest.mark.parametrize('failure, status, words', [
    (rpc.BrokerUnavailable('the message broker is not reachable'), '503', 'not reachable'),
    (messaging.MessagingTimeout('late'), '503', 'did not answer in time'),
    (rpc.BusError(rpc.INTERNAL_ERROR, 'boom'), '502', 'InternalError: boom'),
])
def test_a_scheduler_that_fails_gives_an_error_page(api, failure, status, words):
    api.failure = failure
    answer_status, _, body = get(Dashboard(SchedulerSource(api)), '/')
    assert answer_status.startswith(status) and words in body


def test_the_explain_page_asks_the_scheduler_and_refuses_bad_json(api):
    app = Dashboard(SchedulerSource(api))
    status, _, body = get(app, '/explain', 'request=%7B%22hw%3Acpu_policy%22%3A%22dedicated%22%7D'
                                           '&vcpus=4&memory_mb=2048')
    assert status == '200 OK' and 'No valid host' in body
    assert api.calls[-1] == ('explain', {'name': 'explain', 'vcpus': 4, 'memory_mb': 2048,
                                         'extra_specs': {'hw:cpu_policy': 'dedicated'}})
    status, _, body = get(app, '/explain', 'request=%3Cnot+json')
    assert status == '400 Bad Request' and 'not JSON' in body
    assert '&lt;not json</textarea>' in body        # the text comes back, escaped


def test_head_sends_headers_only_and_the_stylesheet_is_served(api):
    app = Dashboard(SchedulerSource(api))
    status, headers, body = get(app, '/', method='HEAD')
    assert status == '200 OK' and body == '' and int(headers['Content-Length']) > 0
    status, headers, body = get(app, '/static/dashboard.css')
    assert headers['Content-Type'].startswith('text/css') and 'body {' in body


def test_a_huge_query_is_refused(api):
    status, _, _ = get(Dashboard(SchedulerSource(api)), '/explain', 'request=' + 'x' * 70000)
    assert status == '414 URI Too Long'


def test_the_fleet_is_asked_for_again_only_after_refresh_seconds(api):
    now = [100.0]
    source = SchedulerSource(api, refresh_seconds=5, clock=lambda: now[0])
    app = Dashboard(source)
    for _ in range(3):
        get(app, '/', 'page=1')
    assert api.calls.count('hosts') == 1
    now[0] += 5
    get(app, '/')
    assert api.calls.count('hosts') == 2


def test_an_instance_whose_host_is_gone_is_shown_without_its_drawing(api):
    api.show = lambda uuid: dict(record(), host='gone-host')
    status, _, body = get(Dashboard(SchedulerSource(api)), '/instance/uuid-1')
    assert status == '200 OK' and 'Assignment' in body and 'data-pcpu' not in body
    assert HOSTILE not in body


def test_the_summary_is_computed_once_per_hosts_answer(api):
    now = [0.0]
    app = Dashboard(SchedulerSource(api, refresh_seconds=5, clock=lambda: now[0]))
    first = app.fleet_facts()
    assert app.fleet_facts() is first
    now[0] += 5
    assert app.fleet_facts() is not first and app.fleet_facts().totals == first.totals
