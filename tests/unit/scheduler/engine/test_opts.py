"""Settings reach the algorithm as values: only the option modules know oslo.config.

The engine, the fitting core, the filters and the weighers get EngineSettings and
FitPolicy values built by the commands (scheduler/cmd/) from the configuration they
loaded; a configuration read inside them would bypass those values (and SIGHUP reloads).
"""

import ast
import pathlib

import pytest

from scheduler.engine.opts import settings_from_conf

TOP = pathlib.Path(__file__).resolve().parents[4] / 'scheduler'
ALGORITHM = ('engine', 'fitting', 'filters', 'weighers')
OPTION_MODULES = {TOP / 'engine' / 'opts.py'}


def _algorithm_modules():
    for package in ALGORITHM:
        for path in sorted((TOP / package).rglob('*.py')):
            if path not in OPTION_MODULES:
                yield path


def _config_reads(path):
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or '').startswith('oslo_config'):
            yield node.lineno, f"from {node.module} import ..."
        elif isinstance(node, ast.Import) and any(a.name.startswith('oslo_config')
                                                  for a in node.names):
            yield node.lineno, 'import oslo_config'
        elif isinstance(node, ast.Name) and node.id == 'CONF':
            yield node.lineno, 'CONF'
        elif isinstance(node, ast.ImportFrom) and any(a.name == 'opts' for a in node.names) \
                and node.module == 'scheduler.engine':
            yield node.lineno, 'imports the engine options module'


@pytest.mark.parametrize('path', list(_algorithm_modules()), ids=lambda p: str(p.relative_to(TOP)))
def test_the_algorithm_reads_no_configuration(path):
    assert list(_config_reads(path)) == []


def test_the_option_modules_are_found():
    assert len(list(_algorithm_modules())) > 30


def test_settings_need_the_configuration_they_are_built_from():
    with pytest.raises(TypeError):
        settings_from_conf()      # no silent fallback to the global CONF
