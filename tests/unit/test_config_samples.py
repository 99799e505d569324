"""The configuration samples in etc/kvmfleet/ match the code, and every option explains itself.

A stale sample misleads operators, so this fails until tools/generate-config.sh is run.
"""

import configparser
import difflib
import importlib
import importlib.metadata
import os
import pathlib
import re
import socket
import subprocess
import sys

import pytest
from oslo_config import cfg

import agent.opts
import dashboard.opts
import scheduler.opts
import wire.opts

TOP = pathlib.Path(__file__).resolve().parents[2]
GENERATOR = pathlib.Path(sys.executable).with_name('oslo-config-generator')
SERVICES = ('scheduler', 'agent', 'dashboard')
AGGREGATORS = {'kvmfleet.scheduler': scheduler.opts, 'kvmfleet.agent': agent.opts,
               'kvmfleet.wire': wire.opts, 'kvmfleet.dashboard': dashboard.opts}
REGENERATE = 'run tools/generate-config.sh and commit the samples'


def _generate(service, output_dir):
    output = output_dir / f'kvmfleet-{service}.conf.sample'
    result = subprocess.run(
        [str(GENERATOR), '--config-file', f'etc/kvmfleet/{service}-config-generator.conf',
         '--output-file', str(output)],
        cwd=TOP, capture_output=True, text=True, env={**os.environ, 'PYTHONWARNINGS': 'ignore'})
    assert result.returncode == 0, result.stderr
    return output.read_text()


@pytest.fixture(scope='module')
def fresh_samples(tmp_path_factory):
    output_dir = tmp_path_factory.mktemp('samples')
    return {service: _generate(service, output_dir) for service in SERVICES}


@pytest.mark.parametrize('service', SERVICES)
def test_committed_sample_is_current(service, fresh_samples):
    committed_path = TOP / 'etc' / 'kvmfleet' / f'kvmfleet-{service}.conf.sample'
    assert committed_path.exists(), f"{committed_path} is missing: {REGENERATE}"
    committed = committed_path.read_text()
    if committed != fresh_samples[service]:
        diff = ''.join(list(difflib.unified_diff(
            committed.splitlines(True), fresh_samples[service].splitlines(True),
            'committed', 'generated'))[:60])
        pytest.fail(f"{committed_path.name} is stale: {REGENERATE}\n"
                    f"(installed: {_library_versions()}; a library upgrade also changes "
                    f"its sections)\n{diff}")


def _library_versions():
    return ', '.join(f'{name} {importlib.metadata.version(name)}'
                     for name in ('oslo.config', 'oslo.messaging', 'oslo.log'))


@pytest.mark.parametrize('service', SERVICES)
def test_sample_has_no_machine_specific_defaults(service, fresh_samples):
    # A default computed on this machine (its name, this checkout) must use sample_default.
    text = fresh_samples[service]
    assert str(TOP) not in text
    hostname = socket.gethostname()
    if len(hostname) > 3 and hostname != 'localhost':
        assert not re.search(rf'\b{re.escape(hostname)}\b', text), \
            f"the sample contains this host's name {hostname!r}: give the option a sample_default"


@pytest.mark.parametrize('service', SERVICES)
def test_sample_has_the_messaging_and_logging_sections(service, fresh_samples):
    text = fresh_samples[service]
    for marker in ('#transport_url = ', '[oslo_messaging_rabbit]', '#debug = false'):
        assert marker in text


def _kvmfleet_options():
    for namespace, module in AGGREGATORS.items():
        for group, options in module.list_opts():
            for option in options:
                yield namespace, getattr(group, 'name', group), option


def _help_problem(help_text):
    text = (help_text or '').strip()
    if not text:
        return 'has no help text'
    if not text.endswith('.'):
        return 'help does not end with a period'
    if len(text.split()) < 3:
        return 'help is not a sentence'
    return None


def test_every_kvmfleet_option_has_full_sentence_help():
    problems = [f"{namespace} [{group}] {option.dest}: {_help_problem(option.help)}"
                for namespace, group, option in _kvmfleet_options()
                if _help_problem(option.help)]
    assert not problems, '\n'.join(problems)


@pytest.mark.parametrize('help_text, problem', [
    (None, 'has no help text'),
    ('  ', 'has no help text'),
    ('Number of attempts', 'help does not end with a period'),
    ('Attempts.', 'help is not a sentence'),
    ('How many hosts a request may try.', None),
])
def test_help_rule(help_text, problem):
    assert _help_problem(help_text) == problem


def _modules_defining_list_opts(package):
    for path in sorted((TOP / package).rglob('*.py')):
        if path.name == 'opts.py' and path.parent == TOP / package:
            continue
        if re.search(r'^def list_opts\(', path.read_text(), re.MULTILINE):
            relative = path.relative_to(TOP).with_suffix('')
            parts = relative.parts[:-1] if relative.name == '__init__' else relative.parts
            yield '.'.join(parts)


@pytest.mark.parametrize('package', ['scheduler', 'agent', 'wire', 'dashboard'])
def test_aggregator_gathers_every_module_with_options(package):
    aggregator = importlib.import_module(f'{package}.opts')
    missing = set(_modules_defining_list_opts(package)) - set(aggregator.OPTION_MODULES)
    assert not missing, f"add {sorted(missing)} to {package}/opts.py OPTION_MODULES"


@pytest.mark.parametrize('namespace, module', sorted(AGGREGATORS.items()))
def test_entry_point_names_the_aggregator(namespace, module):
    points = importlib.metadata.entry_points(group='oslo.config.opts')
    (point,) = [p for p in points if p.name == namespace]
    assert point.load() is module.list_opts


def test_merge_puts_one_group_once_and_keeps_its_help():
    shared = cfg.IntOpt('attempts', default=3, help='How many hosts to try.')
    group = cfg.OptGroup('scheduler', help='Placement settings.')
    first = [('scheduler', [shared]), (None, [cfg.StrOpt('host', help='This host.')])]
    second = [(group, [shared, cfg.IntOpt('workers', help='Worker count here.')]),
              ('DEFAULT', [cfg.BoolOpt('debug_fit', help='Trace each fit call.')])]
    merged = wire.opts.merge_opts([first, second])
    assert [getattr(g, 'name', g) for g, _ in merged] == ['scheduler', 'DEFAULT']
    assert merged[0][0] is group
    assert [o.dest for o in merged[0][1]] == ['attempts', 'workers']
    assert [o.dest for o in merged[1][1]] == ['host', 'debug_fit']


def test_merge_rejects_two_different_options_with_one_name():
    first = [('pci', [cfg.StrOpt('alias', help='One alias.')])]
    second = [('pci', [cfg.MultiStrOpt('alias', help='Many aliases.')])]
    with pytest.raises(wire.opts.DuplicateOptionError, match=r'\[pci\] alias'):
        wire.opts.merge_opts([first, second])


def _sample_options(text):
    options, section = set(), None
    for line in text.splitlines():
        if line.startswith('[') and line.endswith(']'):
            section = line[1:-1]
        elif re.match(r'#\w+ =( |$)', line):
            options.add((section, line[1:].split(' =')[0]))
    return options


def _written_options(path):
    parser = configparser.ConfigParser()
    parser.read(path)
    return {(section, option) for section in ['DEFAULT', *parser.sections()]
            for option in (parser.defaults() if section == 'DEFAULT' else
                           set(parser[section]) - set(parser.defaults()))}


def test_the_demo_writes_only_real_options(tmp_path, fresh_samples):
    # oslo.config ignores unknown options: a renamed option would silently change the demo.
    sys.path.insert(0, str(TOP / 'tools'))
    try:
        import demo_env
    finally:
        sys.path.remove(str(TOP / 'tools'))
    known = _sample_options(fresh_samples['scheduler']) | _sample_options(fresh_samples['agent'])
    written = (_written_options(demo_env.write_config(tmp_path))
               | _written_options(demo_env.write_real_agent_config(tmp_path)))
    assert written and not written - known, sorted(written - known)
