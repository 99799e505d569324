"""The DevStack plugin: shellcheck clean, and what each phase installs, writes and starts.

The plugin is sourced by tests/unit/devstack/harness.sh with DevStack's functions stubbed;
each stub appends its call to a file that these tests read back.
"""

import json
import os
import pathlib
import pwd
import re
import shutil
import subprocess
import sys

import pytest

from scheduler.specs.flavors import load_flavors
from tests.conftest import missing_service

TOP = pathlib.Path(__file__).resolve().parents[3]
HARNESS = pathlib.Path(__file__).with_name('harness.sh')
BIN = pathlib.Path(sys.executable).parent    # the real kvmfleet commands
PLUGIN_FILES = ['devstack/plugin.sh', 'devstack/settings', 'devstack/lib/kvmfleet']
SERVICES = ('kvmfleet-scheduler', 'kvmfleet-agent')
STUB_TRANSPORT_URL = 'rabbit://stackrabbit:secretmq@10.0.0.5:5672/'
STUB_DATABASE_URL = 'postgresql://root:secretdb@10.0.0.5/kvmfleet?client_encoding=utf8'
ALIASES = [{'name': 'fast-nic', 'vendor_id': '8086', 'product_id': '154c',
            'device_type': 'type-VF'},
           {'name': 'gpu', 'vendor_id': '10de', 'product_id': '1eb8', 'device_type': 'type-PCI'}]
DEVICE_SPECS = [{'vendor_id': '8086', 'product_id': '154c', 'physical_network': 'physnet1'}]
LOCAL_CONF = {
    'KVMFLEET_CPU_DEDICATED_SET': '2-7,^4',
    'KVMFLEET_CPU_SHARED_SET': '0-1',
    'KVMFLEET_PCI_DEVICE_SPEC': '\n'.join(json.dumps(spec) for spec in DEVICE_SPECS),
    'KVMFLEET_PCI_ALIAS': '\n'.join(json.dumps(alias) for alias in ALIASES) + '\n',
}


def run_plugin(work_dir, *args, services=SERVICES, **env):
    """Source the plugin with ARGS (e.g. 'stack', 'extra'); return the recorded calls."""
    environment = {'PATH': os.environ['PATH'], 'HARNESS_ENABLED_SERVICES': ' '.join(services),
                   'HARNESS_BIN_DIR': str(BIN),
                   **{k: os.environ[k] for k in ('PYTHONPATH',) if k in os.environ}, **env}
    result = subprocess.run(['bash', str(HARNESS), str(work_dir), *args], env=environment,
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    lines = (work_dir / 'calls').read_text().splitlines()
    (work_dir / 'calls').unlink()
    calls = [tuple(line.split('\t')) for line in lines]
    assert calls[-1] == ('harness_done', *args), 'the plugin stopped early'
    return calls[:-1]


def named(calls, function):
    return [call[1:] for call in calls if call[0] == function]


def ini_values(calls, work_dir):
    """{(conf file name, section, option): value or [values]} from iniset calls."""
    values = {}
    for call in calls:
        if call[0] in ('iniset', 'iniset_multiline'):
            path, section, option, *written = call[1:]
            assert pathlib.Path(path).parent == work_dir / 'etc' / 'kvmfleet'
            key = (pathlib.Path(path).name, section, option)
            values[key] = written[0] if call[0] == 'iniset' else written
    return values


def test_shellcheck_is_clean():
    shellcheck = shutil.which('shellcheck')
    if shellcheck is None:
        missing_service('shellcheck is not installed (Debian package shellcheck)')
    result = subprocess.run([shellcheck, '-x', '-s', 'bash', *PLUGIN_FILES, str(HARNESS)],
                            cwd=TOP, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_pre_install_installs_the_listed_debian_packages(tmp_path):
    listed = (TOP / 'devstack/files/debs/kvmfleet').read_text().split()
    calls = run_plugin(tmp_path, 'stack', 'pre-install')
    assert named(calls, 'install_package') == [tuple(listed)]
    assert {'libvirt-daemon-system', 'qemu-system-x86', 'libvirt-dev'} <= set(listed)


def test_install_installs_the_checkout_in_development_mode(tmp_path):
    calls = run_plugin(tmp_path, 'stack', 'install')
    assert named(calls, 'setup_develop') == [(str(TOP),)]


def test_post_config_writes_the_bus_database_and_host_resources(tmp_path):
    values = ini_values(run_plugin(tmp_path, 'stack', 'post-config', **LOCAL_CONF), tmp_path)
    assert values[('kvmfleet.conf', 'DEFAULT', 'transport_url')] == STUB_TRANSPORT_URL
    assert values[('kvmfleet.conf', 'DEFAULT', 'state_path')] == str(
        tmp_path / 'opt' / 'stack' / 'data' / 'kvmfleet')
    assert values[('kvmfleet-scheduler.conf', 'database', 'connection')] == STUB_DATABASE_URL
    agent = 'kvmfleet-agent.conf'
    assert values[(agent, 'compute', 'cpu_dedicated_set')] == '2-7,^4'
    assert values[(agent, 'compute', 'cpu_shared_set')] == '0-1'
    assert [json.loads(v) for v in values[(agent, 'pci', 'device_spec')]] == DEVICE_SPECS


def test_post_config_leaves_unset_host_resources_to_the_defaults(tmp_path):
    values = ini_values(run_plugin(tmp_path, 'stack', 'post-config'), tmp_path)
    written = {(section, option) for _, section, option in values}
    assert not written & {('compute', 'cpu_dedicated_set'), ('compute', 'cpu_shared_set'),
                          ('pci', 'device_spec'), ('pci', 'alias')}


def test_post_config_creates_the_database_and_the_directories(tmp_path):
    calls = run_plugin(tmp_path, 'stack', 'post-config')
    assert named(calls, 'recreate_database') == [('kvmfleet',)]
    conf_dir = tmp_path / 'etc' / 'kvmfleet'
    assert named(calls, 'kvmfleet-manage') == [(
        '--config-file', str(conf_dir / 'kvmfleet.conf'),
        '--config-file', str(conf_dir / 'kvmfleet-scheduler.conf'), 'db', 'sync')]
    names = [call[0] for call in calls]
    assert names.index('recreate_database') < names.index('kvmfleet-manage')
    assert (tmp_path / 'etc' / 'kvmfleet').is_dir()
    assert (tmp_path / 'opt' / 'stack' / 'data' / 'kvmfleet').is_dir()


def installed_flavors(work_dir):
    return load_flavors(work_dir / 'etc' / 'kvmfleet' / 'flavors.yaml')


def test_post_config_installs_the_sample_flavors(tmp_path):
    run_plugin(tmp_path, 'stack', 'post-config')
    installed = tmp_path / 'etc' / 'kvmfleet' / 'flavors.yaml'
    assert installed.read_text() == (TOP / 'etc' / 'kvmfleet' / 'flavors.yaml').read_text()


def test_post_config_adds_the_local_conf_pci_aliases_to_the_flavors(tmp_path):
    run_plugin(tmp_path, 'stack', 'post-config', **LOCAL_CONF)
    sample = load_flavors(TOP / 'etc' / 'kvmfleet' / 'flavors.yaml')
    catalog = installed_flavors(tmp_path)
    assert set(catalog.aliases) == set(sample.aliases) | {alias['name'] for alias in ALIASES}
    assert catalog.flavors == sample.flavors


def test_a_checkout_without_sample_flavors_gets_valid_fallback_flavors(tmp_path):
    checkout = tmp_path / 'checkout'
    shutil.copytree(TOP / 'devstack', checkout / 'devstack')
    run_plugin(tmp_path, 'stack', 'post-config', HARNESS_KVMFLEET_DIR=str(checkout),
               **LOCAL_CONF)
    catalog = installed_flavors(tmp_path)
    assert catalog.flavors and set(catalog.aliases) == {alias['name'] for alias in ALIASES}


@pytest.mark.parametrize('services, in_group', [(SERVICES, True),
                                               (['kvmfleet-scheduler'], False)])
def test_the_agent_host_lets_the_stack_user_use_libvirt(tmp_path, services, in_group):
    calls = run_plugin(tmp_path, 'stack', 'post-config', services=services)
    added = named(calls, 'add_user_to_group')
    stack_user = pwd.getpwuid(os.getuid()).pw_name   # the harness's STACK_USER
    assert added == ([(stack_user, 'libvirt')] if in_group else [])


def test_an_agent_only_host_gets_no_database(tmp_path):
    calls = run_plugin(tmp_path, 'stack', 'post-config', services=['kvmfleet-agent'],
                       **LOCAL_CONF)
    values = ini_values(calls, tmp_path)
    assert not named(calls, 'recreate_database')
    assert not named(calls, 'kvmfleet-manage')
    assert not [key for key in values if key[0] == 'kvmfleet-scheduler.conf']
    assert values[('kvmfleet.conf', 'DEFAULT', 'transport_url')] == STUB_TRANSPORT_URL
    assert values[('kvmfleet-agent.conf', 'compute', 'cpu_shared_set')] == '0-1'


def test_an_old_devstack_builds_the_transport_url_from_rabbit_variables(tmp_path):
    calls = run_plugin(tmp_path, 'stack', 'post-config', HARNESS_NO_GET_TRANSPORT_URL='1',
                       RABBIT_USERID='mq', RABBIT_PASSWORD='pw', RABBIT_HOST='192.0.2.9')
    values = ini_values(calls, tmp_path)
    assert values[('kvmfleet.conf', 'DEFAULT', 'transport_url')] == 'rabbit://mq:pw@192.0.2.9:5672/'


def test_extra_starts_the_scheduler_then_the_agent_with_their_config_files(tmp_path):
    started = named(run_plugin(tmp_path, 'stack', 'extra'), 'run_process')
    assert [name for name, _ in started] == ['kvmfleet-scheduler', 'kvmfleet-agent']
    conf_dir = tmp_path / 'etc' / 'kvmfleet'
    for name, command in started:
        assert command.split() == [str(tmp_path / 'bin' / name),
                                   '--config-file', str(conf_dir / 'kvmfleet.conf'),
                                   '--config-file', str(conf_dir / f'{name}.conf')]


@pytest.mark.parametrize('enabled', [['kvmfleet-scheduler'], ['kvmfleet-agent']])
def test_extra_starts_only_the_enabled_service(tmp_path, enabled):
    started = named(run_plugin(tmp_path, 'stack', 'extra', services=enabled), 'run_process')
    assert [name for name, _ in started] == enabled


def test_unstack_stops_both_services(tmp_path):
    stopped = named(run_plugin(tmp_path, 'unstack'), 'stop_process')
    assert sorted(stopped) == [('kvmfleet-agent',), ('kvmfleet-scheduler',)]


def test_clean_removes_configuration_and_state(tmp_path):
    run_plugin(tmp_path, 'stack', 'post-config')
    run_plugin(tmp_path, 'clean')
    assert not (tmp_path / 'etc' / 'kvmfleet').exists()
    assert not (tmp_path / 'opt' / 'stack' / 'data' / 'kvmfleet').exists()


@pytest.mark.parametrize('args', [('stack', 'install'), ('stack', 'post-config'),
                                  ('stack', 'extra'), ('unstack',), ('clean',)])
def test_nothing_happens_when_no_kvmfleet_service_is_enabled(tmp_path, args):
    calls = run_plugin(tmp_path, *args, services=['n-cpu'])
    assert [call[0] for call in calls] == ['define_plugin']


def sample_options(service):
    """{(section, option)} documented in a committed configuration sample."""
    options, section = set(), None
    sample = TOP / 'etc' / 'kvmfleet' / f'kvmfleet-{service}.conf.sample'
    for line in sample.read_text().splitlines():
        if line.startswith('[') and line.endswith(']'):
            section = line[1:-1]
        elif re.match(r'#\w+ =( |$)', line):
            options.add((section, line[1:].split(' =')[0]))
    return options


def test_every_option_the_plugin_writes_is_a_real_option(tmp_path):
    # oslo.config ignores unknown options: a misspelt one would silently do nothing.
    readers = {'kvmfleet.conf': ('scheduler', 'agent'),
               'kvmfleet-scheduler.conf': ('scheduler',), 'kvmfleet-agent.conf': ('agent',)}
    known = {service: sample_options(service) for service in ('scheduler', 'agent')}
    values = ini_values(run_plugin(tmp_path, 'stack', 'post-config', **LOCAL_CONF), tmp_path)
    unknown = [f'{name} [{section}] {option}' for name, section, option in values
               if not any((section, option) in known[reader] for reader in readers[name])]
    assert not unknown, 'not in the configuration samples: ' + ', '.join(unknown)


def test_post_config_makes_enrols_and_configures_the_signing_keys(tmp_path):
    calls = run_plugin(tmp_path, 'stack', 'post-config', KVMFLEET_AGENT_HOST='node-1')
    values = ini_values(calls, tmp_path)
    keys = tmp_path / 'etc' / 'kvmfleet' / 'keys'
    assert values[('kvmfleet-scheduler.conf', 'signing', 'scheduler_private_key')] == \
        str(keys / 'scheduler.key')
    assert values[('kvmfleet-scheduler.conf', 'signing', 'enrolled_hosts_dir')] == \
        str(keys / 'hosts')
    assert values[('kvmfleet-agent.conf', 'agent', 'host')] == 'node-1'
    assert values[('kvmfleet-agent.conf', 'signing', 'trusted_schedulers_dir')] == \
        str(keys / 'schedulers')
    assert (keys / 'hosts' / 'node-1.pub').read_bytes() == (keys / 'agent.pub').read_bytes()
    assert (keys / 'schedulers' / 'scheduler.pub').read_bytes() == \
        (keys / 'scheduler.pub').read_bytes()
    assert os.stat(keys / 'agent.key').st_mode & 0o777 == 0o600
    before = (keys / 'agent.key').read_bytes()
    run_plugin(tmp_path, 'stack', 'post-config', KVMFLEET_AGENT_HOST='node-1')   # restack
    assert (keys / 'agent.key').read_bytes() == before


def test_an_agent_only_node_makes_its_key_and_enrols_nothing(tmp_path):
    run_plugin(tmp_path, 'stack', 'post-config', services=['kvmfleet-agent'])
    keys = tmp_path / 'etc' / 'kvmfleet' / 'keys'
    assert (keys / 'agent.pub').is_file()
    assert not (keys / 'hosts').exists() and not (keys / 'scheduler.key').exists()
