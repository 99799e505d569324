"""Process habits of the real service processes: signals, reload, report, readiness, version.

Each test starts ``kvmfleet-scheduler`` or ``kvmfleet-agent --simulate-fleet``
as a real process on the real RabbitMQ (a private vhost), with a real unix
datagram socket as systemd's NOTIFY_SOCKET, and sends it real signals.
"""

import ctypes
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid

import oslo_messaging as messaging
import pytest
from oslo_config import cfg

from tests import busfleet
from tests.functional.bus_stack import BIN, REPO, rabbitmqctl
from wire import key_commands, rpc, scheduler_rpcapi
from wire.version import version_string

pytestmark = pytest.mark.rabbit

MODULES = {'kvmfleet-scheduler': 'scheduler.cmd.service',
           'kvmfleet-agent': 'agent.cmd.service',
           'kvmfleet': 'scheduler.cmd.cli',
           'kvmfleet-manage': 'scheduler.cmd.manage'}

CONFIG = """[DEFAULT]
transport_url = {url}
broker_wait_timeout = 10
log_file = {workdir}/service.log
debug = false
state_path = {workdir}/state
rpc_ping_enabled = true
[database]
connection = sqlite:///{workdir}/kvmfleet.sqlite
sync_on_startup = true
[scheduler]
flavors_file = {repo}/etc/kvmfleet/flavors.yaml
[filter_scheduler]
ram_weight_multiplier = {ram}
[oslo_reports]
log_dir = {workdir}/reports
"""


@pytest.fixture
def vhost_url(rabbit_url):
    vhost = f"kvmfleet-proc-{uuid.uuid4().hex[:10]}"
    for args in (('add_vhost', vhost), ('set_permissions', '-p', vhost, 'guest', '.*', '.*',
                                        '.*')):
        assert rabbitmqctl(*args).returncode == 0
    yield f"{rabbit_url}{vhost}"
    rabbitmqctl('delete_vhost', vhost)


class Service:
    """One service process under test, and the systemd socket it notifies."""

    def __init__(self, workdir, url, command):
        self.workdir, self.url = workdir, url
        (workdir / 'reports').mkdir()
        self.config = workdir / 'kvmfleet.conf'
        self.write_config(ram=1.0)
        (workdir / 'fleet.json').write_text(json.dumps(
            {'version': 1, 'hosts': [busfleet.host('proc-host-1', vfs_per_cell=0)]}))
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(str(workdir / 'notify.sock'))
        env = dict(os.environ, NOTIFY_SOCKET=str(workdir / 'notify.sock'))
        args = {'kvmfleet-scheduler': [], 'kvmfleet-agent': [
            '--simulate-fleet', str(workdir / 'fleet.json')]}[command]
        self.process = subprocess.Popen(
            [sys.executable, '-m', MODULES[command], '--config-file', str(self.config), *args],
            env=env, stdout=subprocess.DEVNULL, stderr=open(workdir / 'stderr', 'w'),
            cwd=workdir)

    def write_config(self, ram, debug=False):
        text = CONFIG.format(url=self.url, workdir=self.workdir, repo=REPO, ram=ram)
        keys = key_commands.provision(self.workdir / 'keys', ['proc-host-1'])   # signed bus
        self.config.write_text(text.replace('debug = false', f'debug = {debug}'.lower())
                               + key_commands.config_section(keys))

    def log(self, name='service.log'):
        path = self.workdir / name
        return path.read_text() if path.exists() else ''

    def datagram(self, timeout=60):
        self.notify.settimeout(timeout)
        try:
            return self.notify.recv(4096).decode()
        except TimeoutError:
            raise AssertionError(f"no systemd notification in {timeout}s; log:\n{self.log()}"
                                 f"\nstderr:\n{self.log('stderr')}")

    def wait_for_log(self, text, timeout=30, name='service.log'):
        deadline = time.monotonic() + timeout
        while text not in self.log(name):
            assert self.process.poll() is None, f"the service died: {self.log('stderr')}"
            assert time.monotonic() < deadline, f"{text!r} not logged in {timeout}s"
            time.sleep(0.1)

    def signal(self, signum):
        self.process.send_signal(signum)

    def close(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.notify.close()


@pytest.fixture(params=['kvmfleet-scheduler', 'kvmfleet-agent'])
def service(request, tmp_path, vhost_url):
    started = Service(tmp_path, vhost_url, request.param)
    started.name = request.param
    yield started
    started.close()


def test_ready_then_sighup_reloads_mutable_options_and_sigterm_stops_gracefully(service):
    ready = service.datagram()
    assert ready.startswith('READY=1\nSTATUS=serving'), ready
    log = service.log()
    assert f'{service.name} {version_string()} starting' in log
    assert 'transport_url' not in log            # option values are logged at DEBUG only

    service.write_config(ram=-1.0, debug=True)
    service.signal(signal.SIGHUP)
    assert service.datagram().startswith('RELOADING=1\nMONOTONIC_USEC=')
    assert service.datagram() == 'READY=1'
    service.wait_for_log('Configuration reloaded')
    service.wait_for_log('transport_url                  = ****')    # debug now on
    log = service.log()
    assert 'Option DEFAULT.debug changed from [false] to [true]' in log
    assert 'guest:guest' not in log and 'kvmfleet.sqlite' not in log   # secrets masked
    if service.name == 'kvmfleet-scheduler':
        assert 'database.connection            = ****' in log
        assert "Weigher multipliers now {'ram': -1.0" in log
    assert service.process.poll() is None        # SIGHUP no longer kills

    service.signal(signal.SIGTERM)
    assert service.datagram() == 'STOPPING=1'
    assert service.process.wait(60) == 0
    assert 'Traceback' not in service.log() + service.log('stderr')


SYS_TGKILL = {'x86_64': 234, 'aarch64': 131}


def signal_thread(pid, tid, signum):
    """tgkill(2): deliver ``signum`` to one thread of another process."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall(SYS_TGKILL[os.uname().machine], pid, tid, signum) != 0:
        raise OSError(ctypes.get_errno(), 'tgkill')


def test_every_signal_is_served_at_once_whichever_thread_receives_it(service):
    """The kernel hands a process signal to any thread; Python runs handlers in the main
    thread only, so a main thread asleep in Event.wait() missed those another thread
    received (seen: a third SIGHUP never served). Each signal here goes to a thread
    other than the main one."""
    service.datagram()
    pid = service.process.pid
    others = sorted(int(t) for t in os.listdir(f'/proc/{pid}/task') if int(t) != pid)
    assert others
    for attempt in range(10):
        started = time.monotonic()
        signal_thread(pid, others[attempt % len(others)], signal.SIGHUP)
        assert service.datagram(timeout=5).startswith('RELOADING=1'), attempt
        assert service.datagram(timeout=5) == 'READY=1'
        assert time.monotonic() - started < 2.0, attempt
    signal_thread(pid, others[0], signal.SIGTERM)
    assert service.datagram(timeout=5) == 'STOPPING=1'
    assert service.process.wait(30) == 0


def test_sighup_reopens_the_log_file_after_rotation(service):
    service.datagram()
    (service.workdir / 'service.log').rename(service.workdir / 'service.log.1')
    service.signal(signal.SIGHUP)
    service.wait_for_log('Configuration reloaded: 0 mutable option(s) changed')
    assert 'Configuration reloaded' not in service.log('service.log.1')
    assert 'starting' in service.log('service.log.1')


def test_a_bad_config_on_sighup_changes_nothing_and_the_service_lives(service):
    service.datagram()
    service.config.write_text(service.config.read_text().replace('debug = false',
                                                                 'debug = perhaps'))
    service.signal(signal.SIGHUP)
    service.wait_for_log('Reload refused, the running configuration stays: [DEFAULT] debug')
    service.write_config(ram=1.0, debug=True)    # fixed: the next reload applies it
    service.signal(signal.SIGHUP)
    service.wait_for_log('Option DEFAULT.debug changed from [false] to [true]')
    assert service.process.poll() is None


def test_sigusr2_writes_a_guru_meditation_report(service):
    service.datagram()
    service.signal(signal.SIGUSR2)
    reports = service.workdir / 'reports'
    deadline = time.monotonic() + 20
    while not list(reports.glob(f'{service.name}_gurumeditation_*')):
        assert time.monotonic() < deadline, 'no report written'
        time.sleep(0.1)
    time.sleep(0.5)                              # let the report be written out
    report = next(reports.glob(f'{service.name}_gurumeditation_*')).read_text()
    for section in ('Package', 'Threads', 'Configuration'):
        assert re.search(rf'====\s+{section}\s+====', report), section
    assert f'version = {version_string()}' in report
    assert 'in _reload_loop' in report                  # every thread's stack
    assert f'state_path = {service.workdir}/state' in report    # the configuration
    assert 'transport_url = ***' in report and 'guest:guest' not in report
    assert service.process.poll() is None


def test_the_running_scheduler_answers_rpc_ping(tmp_path, vhost_url):
    scheduler = Service(tmp_path, vhost_url, 'kvmfleet-scheduler')
    try:
        scheduler.datagram()
        cfg.CONF.set_override('transport_url', vhost_url)
        client = rpc.get_rpc_client(scheduler_rpcapi.TOPIC, '1.0', timeout=20)
        assert client.call({}, 'oslo_rpc_server_ping') == 'pong'
        with pytest.raises((messaging.RemoteError, rpc.BusError)):
            client.call({}, 'check_hosts')        # a manager method that is not @endpoint
    finally:
        rpc.reset_transports()
        cfg.CONF.clear_override('transport_url')
        scheduler.close()


@pytest.mark.parametrize('command', sorted(MODULES))
@pytest.mark.parametrize('how', ['module', 'console-script'])
def test_every_command_prints_its_version(command, how):
    argv = ([sys.executable, '-m', MODULES[command]] if how == 'module'
            else [str(BIN / command)])
    if how == 'console-script' and not (BIN / command).exists():
        # a console script added by this branch exists once the package is reinstalled
        pytest.skip(f'{command} is not installed yet; the module form is tested')
    result = subprocess.run([*argv, '--version'], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f'{command} {version_string()}'


def test_a_nova_filter_we_lack_stops_the_scheduler_before_it_creates_anything(tmp_path):
    config = tmp_path / 'nova.conf'
    keys = key_commands.provision(tmp_path / 'keys', [])
    config.write_text('[DEFAULT]\ntransport_url = kombu+memory:////\n'
                      f'[database]\nconnection = sqlite:///{tmp_path}/s.sqlite\n'
                      '[filter_scheduler]\nenabled_filters = ComputeFilter,'
                      'ImagePropertiesFilter\n' + key_commands.config_section(keys))
    result = subprocess.run([sys.executable, '-m', MODULES['kvmfleet-scheduler'],
                             '--config-file', str(config)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert ('[filter_scheduler] enabled_filters: ImagePropertiesFilter is a Nova filter '
            'kvmfleet does not implement') in result.stderr
    assert 'Traceback' not in result.stderr
    assert not (tmp_path / 's.sqlite').exists()
