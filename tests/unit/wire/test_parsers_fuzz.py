"""Runs fuzz_parsers.py in a child pytest capped at 1 GiB of address space.

The child sets the cap (RLIMIT_AS) on itself before it imports anything else,
so the test runner is not limited (and no preexec_fn runs in a threaded
parent); the child checks the cap is in force before fuzzing.
"""

import os
import pathlib
import subprocess
import sys

WORKER = pathlib.Path(__file__).with_name('fuzz_parsers.py')
REPO = pathlib.Path(__file__).resolve().parents[3]
CAP_BYTES = 1 << 30
WALL_LIMIT_S = 240
CHILD = (
    'import resource, sys\n'
    f'resource.setrlimit(resource.RLIMIT_AS, ({CAP_BYTES}, {CAP_BYTES}))\n'
    'import pytest\n'
    'sys.exit(pytest.main(sys.argv[1:]))\n'
)


def test_every_parser_survives_fuzzing_under_a_1_gib_cap():
    env = dict(os.environ, KVMFLEET_FUZZ_CAPPED='1', PYTHONPATH=str(REPO))
    result = subprocess.run(
        [sys.executable, '-c', CHILD, '-p', 'no:cacheprovider', '-q', '-x',
         '-W', 'ignore::DeprecationWarning', str(WORKER)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=WALL_LIMIT_S)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert ' passed' in result.stdout and 'skipped' not in result.stdout
