"""The systemd units in etc/systemd/ start the right commands the way the services expect."""

import configparser
import pathlib
import shlex
import shutil
import subprocess
import sys

import pytest

from tests.conftest import missing_service

TOP = pathlib.Path(__file__).resolve().parents[2]
UNITS = TOP / 'etc' / 'systemd'


def console_scripts():
    setup = configparser.ConfigParser()
    setup.read(TOP / 'setup.cfg')
    lines = setup['entry_points']['console_scripts'].strip().splitlines()
    return {line.split('=')[0].strip() for line in lines}


def unit(name):
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str                       # systemd keys are case-sensitive
    parser.read(UNITS / f'{name}.service')
    return parser


NAMES = ('kvmfleet-scheduler', 'kvmfleet-agent', 'kvmfleet-dashboard')


@pytest.mark.parametrize('name', NAMES)
def test_a_unit_runs_its_console_script_as_a_notify_service(name):
    service = unit(name)['Service']
    command = shlex.split(service['ExecStart'].replace('\\\n', ' '))   # a continued line
    assert pathlib.PurePath(command[0]).name == name and name in console_scripts()
    assert command[1:] == ['--config-file', '/etc/kvmfleet/kvmfleet.conf',      # shared first
                           '--config-file', f'/etc/kvmfleet/{name}.conf']
    assert service['Type'] == 'notify' and service['NotifyAccess'] == 'main'
    assert service['ExecReload'] == '/bin/kill -HUP $MAINPID'
    assert service['KillMode'] == 'mixed'
    assert service['Restart'] == 'on-failure'
    # configuration errors exit 2; the scheduler exits 3 on a schema to migrate
    assert service['RestartPreventExitStatus'] == {'kvmfleet-scheduler': '2 3',
                                                   'kvmfleet-agent': '2',
                                                   'kvmfleet-dashboard': '2'}[name]
    assert (service['User'], service['Group']) == ('kvmfleet', 'kvmfleet')
    assert service['StateDirectory'] == 'kvmfleet'      # [DEFAULT] state_path's default
    assert unit(name)['Install']['WantedBy'] == 'multi-user.target'


def test_the_agent_reaches_libvirt_and_lets_qemu_traverse_its_state():
    agent = unit('kvmfleet-agent')
    assert agent['Service']['SupplementaryGroups'] == 'libvirt'
    assert agent['Service']['StateDirectoryMode'] == '0755'
    assert 'libvirtd.service' in agent['Unit']['After'].split()


def test_the_user_of_the_units_is_declared_for_sysusers():
    lines = [line.split() for line in (UNITS / 'kvmfleet.sysusers.conf').read_text()
             .splitlines() if line and not line.startswith('#')]
    assert ['u', 'kvmfleet', '-'] == lines[0][:3]
    assert ['m', 'kvmfleet', 'libvirt'] in lines


def test_systemd_analyze_finds_nothing_to_say(tmp_path):
    """systemd's own parser: an unknown key or a bad value is a warning on stderr."""
    analyze = shutil.which('systemd-analyze')
    if analyze is None:
        missing_service('systemd-analyze (package systemd) is not installed')
    for name in NAMES:
        text = (UNITS / f'{name}.service').read_text()
        # verify wants the executables to exist: point them at this interpreter's scripts
        text = text.replace('/usr/local/bin/', f'{pathlib.Path(sys.executable).parent}/')
        (tmp_path / f'{name}.service').write_text(text)
    result = subprocess.run([analyze, 'verify', '--man=no', *(f'{n}.service' for n in NAMES)],
                            cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stderr == '', result.stderr
