"""The service entry points refuse to start without a broker, after a bounded, logged wait."""

import subprocess
import time

import pytest

from tests.functional.bus_stack import BIN


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
