"""The README's first command: the bus demo runs to the end, twice in a row.

Marked libvirt and rabbit: it needs the broker and, for its real guest, libvirtd + QEMU.
"""

import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT, missing_service, port_open

pytestmark = [pytest.mark.rabbit, pytest.mark.libvirt]

# What an operator must see: exact assignments, per-cell usage, an explained NoValidHost,
# and what the real guest saw, then a clean stop.
EXPECTED = ('=== Exact assignment of', '=== Usage per host and NUMA cell',
            'NoValidHost', 'nearest:', 'KVMFLEET nproc=', '=== Demo finished')


def test_demo_runs_twice_in_a_row():
    if not port_open(5672):
        missing_service('RabbitMQ is not listening on 127.0.0.1:5672')
    for run in (1, 2):
        result = subprocess.run([sys.executable, str(REPO_ROOT / 'tools' / 'demo.py')],
                                cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
        output = result.stdout + result.stderr
        assert result.returncode == 0, f"run {run}:\n{output[-3000:]}"
        missing = [text for text in EXPECTED if text not in output]
        assert not missing, f"run {run} did not show {missing}:\n{output[-3000:]}"
