"""Lint is part of the suite: ruff over the whole tree."""

import pathlib
import subprocess
import sys

TOP = pathlib.Path(__file__).resolve().parents[1]


def test_ruff_is_clean():
    ruff = pathlib.Path(sys.executable).with_name('ruff')
    result = subprocess.run([str(ruff), 'check', str(TOP)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
