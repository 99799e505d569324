import threading
import urllib.request

from oslo_config import cfg

from dashboard import service
from tests.unit.dashboard.test_app import FakeAPI


def test_the_server_listens_where_configured_and_serves_pages():
    cfg.CONF.set_override('port', 0, group='dashboard')
    try:
        server = service.build_server(cfg.CONF, api=FakeAPI())
    finally:
        cfg.CONF.clear_override('port', group='dashboard')
    host, port = server.server_address[:2]
    assert host == '127.0.0.1'
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as answer:
            assert answer.status == 200 and b'<h1>Fleet</h1>' in answer.read()
    finally:
        server.shutdown()
        server.server_close()


def test_a_guarded_api_refuses_at_once_when_the_broker_is_down():
    api = service.GuardedAPI(FakeAPI(), [('127.0.0.1', 9)])    # nothing listens on discard
    try:
        api.hosts()
    except service.rpc.BrokerUnavailable as exc:
        assert 'not reachable' in str(exc)
    else:
        raise AssertionError('expected BrokerUnavailable')
    assert api.api.calls == []


def test_a_bad_configuration_exits_2(tmp_path, capsys):
    bad = tmp_path / 'bad.conf'
    bad.write_text('[dashboard]\nport = 99999\n')
    assert service.main(['--config-file', str(bad)]) == 2
    cfg.CONF.reset()
    assert 'kvmfleet-dashboard: configuration' in capsys.readouterr().err
