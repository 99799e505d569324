"""The service entry points refuse to start without a broker, after a bounded, logged wait,
and the scheduler refuses a database that is not at its schema (exit code 3)."""

import signal
import subprocess
import sys
import time

import pytest

from scheduler.store import schema
from tests.functional.bus_stack import BIN
from wire import key_commands


@pytest.mark.parametrize('command', [
    ['kvmfleet-scheduler'],
    ['kvmfleet-agent', '--simulate-fleet', 'unused.json'],
])
def test_service_gives_up_on_a_down_broker(tmp_path, command):
    config = tmp_path / 'down.conf'
    config.write_text('[DEFAULT]\ntransport_url = rabbit://guest:guest@127.0.0.1:1/\n'
                      'broker_wait_timeout = 1\nbroker_wait_interval = 0.2\n'
                      f'[database]\nconnection = sqlite:///{tmp_path}/s.sqlite\n')
    started = time.monotonic()
    result = subprocess.run([str(BIN / command[0]), '--config-file', str(config), *command[1:]],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert 'unreachable after 1s' in result.stderr          # one line for the operator
    assert 'retrying' in result.stdout + result.stderr      # the log (oslo.log: stdout)
    assert time.monotonic() - started < 15


def run_in_memory(tmp_path, command, extra_config):
    """Run a service on the in-memory bus with ``extra_config``; its CompletedProcess."""
    config = tmp_path / 'service.conf'
    config.write_text('[DEFAULT]\ntransport_url = kombu+memory:////\n'
                      f'[database]\nconnection = sqlite:///{tmp_path}/s.sqlite\n' + extra_config)
    return subprocess.run([str(BIN / command[0]), '--config-file', str(config), *command[1:]],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize('command,option', [
    (['kvmfleet-scheduler'], 'agent'),
    (['kvmfleet-agent', '--simulate-fleet', 'unused.json'], 'scheduler'),
])
def test_service_refuses_a_bad_upgrade_level_and_creates_nothing(tmp_path, command, option):
    result = run_in_memory(tmp_path, command, f'[upgrade_levels]\n{option} = 1.9\n')
    assert result.returncode in (1, 2)
    assert f"[upgrade_levels] {option} = '1.9'" in result.stderr
    assert 'Traceback' not in result.stderr
    assert not (tmp_path / 's.sqlite').exists()


def scheduler_config(tmp_path, extra=''):
    """A scheduler on the in-memory bus with its signing key; [database] options in ``extra``."""
    keys = key_commands.provision(tmp_path / 'keys', [])
    config = tmp_path / 'scheduler.conf'
    config.write_text('[DEFAULT]\ntransport_url = kombu+memory:////\n'
                      f'log_file = {tmp_path}/scheduler.log\n'
                      + key_commands.config_section(keys)
                      + f'[database]\nconnection = sqlite:///{tmp_path}/s.sqlite\n{extra}')
    return config


def run_scheduler(config):
    return subprocess.run([str(BIN / 'kvmfleet-scheduler'), '--config-file', str(config)],
                          capture_output=True, text=True, timeout=60)


def test_scheduler_refuses_a_missing_database_names_the_command_and_creates_nothing(tmp_path):
    config = scheduler_config(tmp_path)
    result = run_scheduler(config)
    assert result.returncode == 3
    [line] = [line for line in result.stderr.splitlines() if 'kvmfleet' in line]
    assert line.startswith('kvmfleet-scheduler: the database sqlite:///')
    assert f"run `kvmfleet-manage --config-file {config} db sync`" in line
    assert 'Traceback' not in result.stderr
    assert not (tmp_path / 's.sqlite').exists()


def test_scheduler_refuses_a_database_from_before_migrations(tmp_path):
    from tests.unit.scheduler.store.test_upgrade import make_legacy_database
    make_legacy_database(f"sqlite:///{tmp_path}/s.sqlite")
    result = run_scheduler(scheduler_config(tmp_path))
    assert result.returncode == 3
    assert 'is at schema_version 1 (before migrations), this kvmfleet needs revision' \
        in result.stderr
    assert 'db sync' in result.stderr


def test_scheduler_with_sync_on_startup_migrates_then_serves(tmp_path):
    config = scheduler_config(tmp_path, 'sync_on_startup = true\n')
    scheduler = subprocess.Popen([str(BIN / 'kvmfleet-scheduler'), '--config-file', str(config)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    log, deadline = tmp_path / 'scheduler.log', time.monotonic() + 60
    serving = False
    while time.monotonic() < deadline and scheduler.poll() is None:
        serving = log.exists() and 'ready: serving kvmfleet-scheduler' in log.read_text()
        if serving:
            break
        time.sleep(0.2)
    scheduler.send_signal(signal.SIGTERM)
    assert serving, 'the scheduler never said it serves'
    assert scheduler.wait(30) == 0, scheduler.stderr.read()
    head = schema.head_revision()
    assert f"Database schema: empty, now revision {head}" in log.read_text()
    result = subprocess.run([sys.executable, '-m', 'scheduler.cmd.manage', '--config-file',
                             str(config), 'db', 'version'], capture_output=True, text=True,
                            timeout=60)
    assert result.stdout == f"{head}\n"


@pytest.mark.parametrize('command,words', [
    (['kvmfleet-scheduler'], 'kvmfleet keygen'),
    (['kvmfleet-agent', '--simulate-fleet', 'unused.json'], 'kvmfleet-agent keygen'),
])
def test_service_refuses_to_start_without_its_signing_key(tmp_path, command, words):
    """Safe by default: no key, no service (rather than unsigned messages)."""
    result = run_in_memory(tmp_path, command,
                           f'[signing]\nscheduler_private_key = {tmp_path}/absent.key\n'
                           f'agent_private_key = {tmp_path}/absent.key\n')
    assert result.returncode == 1
    assert f"{tmp_path}/absent.key: cannot read" in result.stderr and words in result.stderr
    assert 'Traceback' not in result.stderr
    assert not (tmp_path / 's.sqlite').exists()
