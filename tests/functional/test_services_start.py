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
