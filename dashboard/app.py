"""The dashboard as a WSGI application: read-only pages over a SchedulerSource.

Routes: ``/`` the fleet, ``/host/NAME``, ``/instance/UUID``, ``/instances``,
``/explain``, ``/static/dashboard.css``.  Only GET and HEAD; every page is built on
the server, carries no script, and is sent with a Content-Security-Policy that
forbids scripts anyway (a name that slipped past escaping could still not run).
"""

import logging
import threading
import urllib.parse

import oslo_messaging as messaging

from dashboard import fleet, pages
from dashboard.html import esc, page, stylesheet
from wire import rpc

LOG = logging.getLogger(__name__)
MAX_QUERY_BYTES = 65536
SECURITY_HEADERS = [
    ('Content-Security-Policy', "default-src 'none'; style-src 'self'; img-src 'self' data:; "
                                "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"),
    ('X-Content-Type-Options', 'nosniff'), ('Referrer-Policy', 'no-referrer'),
    ('Cache-Control', 'no-store'),
]
ERROR_STATUS = {rpc.NOT_FOUND: '404 Not Found', rpc.INVALID_INPUT: '400 Bad Request'}


class HttpError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class Dashboard:
    """``Dashboard(source, page_size)(environ, start_response)``."""

    def __init__(self, source, page_size=100):
        self.source = source
        self.page_size = page_size
        self._lock = threading.Lock()
        self._facts = None
        self.routes = {'': self.fleet_page, 'host': self.host_page,
                       'instance': self.instance_page, 'instances': self.instances_page,
                       'explain': self.explain_page, 'static': self.static_file}

    def __call__(self, environ, start_response):
        status, content_type, body = self.respond(environ)
        data = body.encode('utf-8')
        headers = [('Content-Type', content_type), ('Content-Length', str(len(data)))]
        start_response(status, headers + SECURITY_HEADERS)
        return [b''] if environ.get('REQUEST_METHOD') == 'HEAD' else [data]

    def respond(self, environ):
        """(status, content type, text) of one request; every failure is a page."""
        try:
            if environ.get('REQUEST_METHOD') not in ('GET', 'HEAD'):
                raise HttpError('405 Method Not Allowed', 'the dashboard only reads')
            head, rest, params = _request(environ)
            handler = self.routes.get(head)
            if handler is None:
                raise HttpError('404 Not Found', f"no page {head}")
            return handler(rest, params)
        except HttpError as exc:
            return _error(exc.status, str(exc))
        except rpc.BusError as exc:
            return _error(ERROR_STATUS.get(exc.code, '502 Bad Gateway'), exc.one_line())
        except rpc.BrokerUnavailable as exc:
            return _error('503 Service Unavailable', str(exc))
        except messaging.MessagingTimeout:
            return _error('503 Service Unavailable', 'the scheduler did not answer in time')
        except messaging.MessagingException as exc:
            return _error('503 Service Unavailable', f"bus error: {str(exc).splitlines()[0]}")
        except Exception:
            LOG.exception('Dashboard page %s failed', environ.get('PATH_INFO'))
            return _error('500 Internal Server Error', 'the page failed; see the log')

    # -- pages ---------------------------------------------------------------
    def fleet_page(self, rest, params):
        _no_rest(rest)
        query = fleet.FleetQuery.from_params(params)
        return _html('Fleet', fleet.fleet_body(self.fleet_facts(), query, self.page_size))

    def fleet_facts(self):
        """FleetFacts of the source's hosts answer, made once per answer."""
        hosts = self.source.hosts()
        with self._lock:
            if self._facts is None or self._facts.hosts is not hosts:
                self._facts = fleet.FleetFacts.of(hosts)
            return self._facts

    def host_page(self, rest, params):
        detail = self.source.host_detail(_one_name(rest, 'host'))
        return _html(f"Host {detail['name']}", pages.host_body(detail))

    def instance_page(self, rest, params):
        record = self.source.instance(_one_name(rest, 'instance'))
        detail = None
        if record.get('host') and record.get('assignment'):
            try:
                detail = self.source.host_detail(record['host'])
            except rpc.BusError as exc:   # the host is gone: the record still shows
                LOG.info('Instance %s: host %s not drawn: %s', record['uuid'], record['host'],
                         exc.one_line())
        return _html(f"Instance {record['name']}", pages.instance_body(record, detail))

    def instances_page(self, rest, params):
        _no_rest(rest)
        state = params.get('state') or None
        host = params.get('host', '').strip() or None
        records = self.source.instances(state=state, host=host)
        return _html('Instances', pages.instances_body(records, host or '', state or '',
                                                       params.get('name', '')))

    def explain_page(self, rest, params):
        _no_rest(rest)
        text = params.get('request', '')
        vcpus, memory = params.get('vcpus', '2'), params.get('memory_mb', '1024')
        body = pages.explain_form(text, vcpus, memory)
        if 'request' in params:
            try:
                request = pages.explain_request(text, vcpus, memory)
            except ValueError as exc:
                return _html('Explain', body + pages.error_body(str(exc)), '400 Bad Request')
            try:
                body += pages.explain_answer(self.source.explain(request))
            except rpc.BusError as exc:
                status = ERROR_STATUS.get(exc.code, '502 Bad Gateway')
                return _html('Explain', body + pages.error_body(exc.one_line()), status)
        return _html('Explain', body)

    def static_file(self, rest, params):
        if rest != 'dashboard.css':
            raise HttpError('404 Not Found', f"no static file {rest}")
        return '200 OK', 'text/css; charset=utf-8', stylesheet()


def _request(environ):
    """(first path segment, the rest, {query key: first value})."""
    raw_path = environ.get('PATH_INFO') or '/'
    path = raw_path.encode('latin-1').decode('utf-8', 'replace')   # WSGI's str-of-bytes
    head, _, rest = path.lstrip('/').partition('/')
    query = environ.get('QUERY_STRING') or ''
    if len(query) > MAX_QUERY_BYTES:
        raise HttpError('414 URI Too Long', f"the query is over {MAX_QUERY_BYTES} bytes")
    params = {key: values[0] for key, values in
              urllib.parse.parse_qs(query, keep_blank_values=True).items()}
    return head, rest, params


def _one_name(rest, what):
    if not rest or '/' in rest:
        raise HttpError('404 Not Found', f"expected /{what}/NAME")
    return rest


def _no_rest(rest):
    if rest:
        raise HttpError('404 Not Found', f"no page {rest}")


def _html(title, body, status='200 OK'):
    return status, 'text/html; charset=utf-8', page(title, body)


def _error(status, message):
    return _html(status.split(' ', 1)[1], f'<p class="error">{esc(message)}</p>', status)
