"""Runs fuzz_parsers.py in a child pytest capped at 1 GiB of address space.

The cap (RLIMIT_AS) applies to the child only, so the test runner itself is
not limited; the child proves the cap is in force before fuzzing.
"""

import os
import pathlib
import resource
import subprocess
import sys

WORKER = pathlib.Path(__file__).with_name('fuzz_parsers.py')
REPO = pathlib.Path(__file__).resolve().parents[3]
CAP_BYTES = 1 << 30
WALL_LIMIT_S = 240


def _cap_address_space():
    resource.setrlimit(resource.RLIMIT_AS, (CAP_BYTES, CAP_BYTES))


def test_every_parser_survives_fuzzing_under_a_1_gib_cap():
    env = dict(os.environ, KVMFLEET_FUZZ_CAPPED='1', PYTHONPATH=str(REPO))
    result = subprocess.run(
        [sys.executable, '-m', 'pytest', '-p', 'no:cacheprovider', '-q', '-x',
         '-W', 'ignore::DeprecationWarning', str(WORKER)],
        cwd=REPO, env=env, preexec_fn=_cap_address_space, capture_output=True, text=True,
        timeout=WALL_LIMIT_S)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert ' passed' in result.stdout and 'skipped' not in result.stdout
