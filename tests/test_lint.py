"""Lint is part of the suite: ruff over the Python, shellcheck over our shell scripts."""

import pathlib
import shutil
import subprocess
import sys

from tests.conftest import missing_service

TOP = pathlib.Path(__file__).resolve().parents[1]


def test_ruff_is_clean():
    ruff = pathlib.Path(sys.executable).with_name('ruff')
    result = subprocess.run([str(ruff), 'check', str(TOP)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_shellcheck_is_clean_on_the_setup_scripts():
    shellcheck = shutil.which('shellcheck')
    if shellcheck is None:
        missing_service('shellcheck is not installed (Debian package shellcheck)')
    scripts = sorted(str(p) for p in (TOP / 'tools').glob('*.sh')) + [str(TOP / '.ci' / 'run')]
    result = subprocess.run([shellcheck, *scripts], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
