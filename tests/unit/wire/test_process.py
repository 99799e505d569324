"""Reload of mutable options (all or nothing), log reopening, version: wire/process.py."""

import logging

import pytest
from oslo_config import cfg
from oslo_log import log as oslo_log

from wire import process, version


@pytest.fixture
def config(tmp_path):
    path = tmp_path / 'service.conf'
    path.write_text('[DEFAULT]\ndebug = false\n[g]\nmultiplier = 1.0\nfixed = a\n')
    conf = cfg.ConfigOpts()
    oslo_log.register_options(conf)
    conf.register_opts([cfg.FloatOpt('multiplier', default=1.0, mutable=True),
                        cfg.StrOpt('fixed', default='a')], group='g')
    conf(['--config-file', str(path)], project='kvmfleet-test')
    return path, conf


def test_reload_changes_mutable_options_only_and_runs_the_hooks(config, caplog):
    path, conf = config
    service, seen = process.ServiceProcess('test', conf), []
    service.on_reload(seen.append)
    path.write_text('[DEFAULT]\ndebug = true\n[g]\nmultiplier = -2\nfixed = b\n')
    with caplog.at_level(logging.INFO):
        changed = service.reload()
    assert set(changed) == {(None, 'debug'), ('g', 'multiplier')}
    assert (conf.debug, conf.g.multiplier, conf.g.fixed) == (True, -2.0, 'a')
    assert seen == [changed]
    assert 'Ignoring change to immutable option g.fixed' in caplog.text


@pytest.mark.parametrize('content, named', [
    ('[DEFAULT]\ndebug = maybe\n[g]\nmultiplier = 5\n', '[DEFAULT] debug'),
    ('[DEFAULT]\ndebug = true\n[g]\nmultiplier = many\n', '[g] multiplier'),
    ('[DEFAULT\ndebug = true\n', 'Invalid section'),
])
def test_a_bad_file_changes_nothing_and_says_why(config, caplog, content, named):
    path, conf = config
    service, seen = process.ServiceProcess('test', conf), []
    service.on_reload(seen.append)
    path.write_text(content)
    assert service.reload() is None
    assert (conf.debug, conf.g.multiplier) == (False, 1.0)
    assert seen == []
    assert 'Reload refused, the running configuration stays' in caplog.text
    assert named in caplog.text
    path.write_text('[DEFAULT]\ndebug = true\n[g]\nmultiplier = 1.0\n')   # fixed: applies
    assert service.reload() == {(None, 'debug'): ('false', 'true')}


def test_a_failing_hook_is_logged_and_the_others_still_run(config, caplog):
    _, conf = config
    service, seen = process.ServiceProcess('test', conf), []
    service.on_reload(lambda changed: 1 / 0)
    service.on_reload(seen.append)
    assert service.reload() == {}
    assert seen == [{}]
    assert 'Reload hook' in caplog.text and 'ZeroDivisionError' in caplog.text


def test_log_files_are_reopened_after_rotation(tmp_path):
    logger = logging.getLogger(f'kvmfleet-test-{tmp_path.name}')
    logger.propagate = False
    handler = logging.FileHandler(tmp_path / 'service.log')
    logger.addHandler(handler)
    try:
        logger.error('before rotation')
        (tmp_path / 'service.log').rename(tmp_path / 'service.log.1')
        assert process.reopen_log_files(logger) == 1
        logger.error('after rotation')
    finally:
        logger.removeHandler(handler)
        handler.close()
    assert (tmp_path / 'service.log.1').read_text() == 'before rotation\n'
    assert (tmp_path / 'service.log').read_text() == 'after rotation\n'


def test_version_comes_from_the_package_metadata():
    assert version.version_string() not in ('', None)
    assert version.version_line('kvmfleet-agent') == \
        f'kvmfleet-agent {version.version_string()}'
    release = version.ReleaseInfo()
    assert release.product_string() == 'kvmfleet'
    assert release.version_string_with_package() == version.version_string()


def test_a_file_changed_between_the_check_and_the_reload_still_changes_nothing(
        config, monkeypatch):
    """oslo.config exits (argparse) on a bad command-line option value read from a file."""
    path, conf = config
    monkeypatch.setattr(process, 'check_reload', lambda conf: None)   # the race's window
    path.write_text('[DEFAULT]\ndebug = maybe\n[g]\nmultiplier = 3\n')
    assert process.ServiceProcess('test', conf).reload() is None
    assert (conf.debug, conf.g.multiplier) == (False, 1.0)
