"""The dashboard reads the scheduler only over its RPC API: it imports no scheduler or
agent module (the renderer is shared the other way: the CLI imports it)."""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[3] / 'dashboard'


def imported_packages(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name.split('.')[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module.split('.')[0]


@pytest.mark.parametrize('path', sorted(PACKAGE.rglob('*.py')), ids=lambda p: p.name)
def test_no_dashboard_module_imports_the_scheduler_or_the_agent(path):
    assert not {'scheduler', 'agent'} & set(imported_packages(path))
