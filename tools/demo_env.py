"""The demo's surroundings: its RabbitMQ vhost, the services it runs, their config files.

tools/demo.py tells the story; this module starts and stops what the story needs and checks,
before anything starts, that the broker and libvirt can do their part.
"""

import os
import pathlib
import signal
import subprocess
import sys
import time

TOP = pathlib.Path(__file__).resolve().parents[1]
BIN = pathlib.Path(sys.executable).parent
FLEET_FILE = TOP / 'samples' / 'fleet.json'
FLAVORS_FILE = TOP / 'etc' / 'kvmfleet' / 'flavors.yaml'
TEST_IMAGE = 'test-guest'   # built by tools/build-test-image.sh under /var/lib/kvmfleet/images
# The demo's own RabbitMQ vhost on the local broker: queue names are per vhost, so nothing the
# test suite or an earlier run declared can take the demo's messages, and deleting the vhost
# at the end removes every queue the demo made.
DEMO_VHOST = 'kvmfleet-demo'
TRANSPORT_URL = f'rabbit://guest:guest@127.0.0.1:5672/{DEMO_VHOST}'
START_TIMEOUT = 60
STOP_TIMEOUT = 15


def command(name):
    """The path of one of kvmfleet's console scripts, from this Python's environment."""
    return str(BIN / name)


def manage_command():
    """``kvmfleet-manage``, or its module where the console script is not installed yet."""
    script = BIN / 'kvmfleet-manage'
    return [str(script)] if script.exists() else [sys.executable, '-m', 'scheduler.cmd.manage']


class Processes:
    """The services the demo started; stops them (SIGTERM, then SIGKILL) in reverse order."""

    def __init__(self, log_dir):
        self.log_dir = log_dir
        self.running = []

    def start(self, name, argv):
        log_path = self.log_dir / f'{name}.log'
        log = open(log_path, 'w')
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
        self.running.append((name, process, log))
        print(f'    started {name} (pid {process.pid}, log {log_path})', flush=True)
        return process

    def check_alive(self):
        for name, process, _ in self.running:
            if process.poll() is not None:
                tail = (self.log_dir / f'{name}.log').read_text()[-2000:]
                raise DemoError(f'{name} exited with {process.returncode}:\n{tail}')

    def stop_all(self):
        for name, process, log in reversed(self.running):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    print(f'    {name} did not stop in {STOP_TIMEOUT}s: killing it')
                    process.kill()
                    process.wait()
            log.close()
            print(f'    stopped {name}', flush=True)
        self.running = []


class DemoError(RuntimeError):
    """The demo cannot go on; the message says why."""


def write_config(state_dir):
    """The configuration file shared by the scheduler, the agents and the CLI."""
    lines = ['[DEFAULT]', f'transport_url = {TRANSPORT_URL}',
             '[database]', f'connection = sqlite:///{state_dir}/kvmfleet.sqlite',
             '[scheduler]', f'flavors_file = {FLAVORS_FILE}',
             '[agent]', f'simulation_path = {state_dir}/simulated']
    path = state_dir / 'kvmfleet.conf'
    path.write_text('\n'.join(lines) + '\n')
    return path


def rabbitmqctl(*args):
    result = subprocess.run(['rabbitmqctl', '-q', *args], capture_output=True, text=True,
                            timeout=60)
    return result.returncode == 0, (result.stdout + result.stderr).strip()


def fresh_vhost():
    """The demo's vhost, empty (an interrupted earlier run may have left queues in it)."""
    rabbitmqctl('delete_vhost', DEMO_VHOST)
    for args in (('add_vhost', DEMO_VHOST),
                 ('set_permissions', '-p', DEMO_VHOST, 'guest', '.*', '.*', '.*')):
        ok, output = rabbitmqctl(*args)
        if not ok:
            raise DemoError(f"rabbitmqctl {' '.join(args)} failed: {output}")


def write_real_agent_config(state_dir):
    """Settings of the real agent on this machine (read after the shared file)."""
    cpus = os.cpu_count() or 1
    dedicated = f'1-{cpus - 1}' if cpus > 1 else '0'
    # TCG: nested KVM accepts guests it then fails to run; the demo shows placement, not speed.
    lines = ['[DEFAULT]', f'instances_path = {state_dir}/instances',
             '[compute]', f'cpu_dedicated_set = {dedicated}', 'cpu_shared_set = 0',
             '[libvirt]', 'virt_type = qemu', 'connection_uri = qemu:///system',
             '[agent]', f'default_image = {TEST_IMAGE}']
    path = state_dir / 'kvmfleet-agent.conf'
    path.write_text('\n'.join(lines) + '\n')
    return path


def wait_until(description, ready, processes, timeout=START_TIMEOUT):
    """Poll READY until it is true; fail after TIMEOUT seconds or when a service died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        processes.check_alive()
        if ready():
            return
        time.sleep(0.5)
    raise DemoError(f'{description} not ready after {timeout}s')


def check_broker():
    """Fail at once, with the reason, when RabbitMQ does not complete an AMQP handshake.

    oslo.messaging retries a broken broker forever; a demo that hangs explains nothing.
    """
    import kombu
    connection = kombu.Connection(TRANSPORT_URL.replace('rabbit://', 'amqp://', 1),
                                  connect_timeout=10)
    try:
        connection.ensure_connection(max_retries=1)
    except Exception as error:   # any failure here means the demo cannot run
        raise DemoError(f'RabbitMQ at {TRANSPORT_URL} does not accept AMQP connections '
                        f'({error}); check `rabbitmqctl status` (alarms, file descriptors)')
    finally:
        connection.release()


def libvirt_can_run_qemu():
    """True when qemu:///system answers and can start QEMU guests (KVM or TCG)."""
    try:
        import libvirt
    except ImportError:
        return False
    libvirt.registerErrorHandler(lambda *_: None, None)
    try:
        connection = libvirt.open('qemu:///system')
    except libvirt.libvirtError:
        return False
    try:
        connection.getDomainCapabilities(None, None, None, 'qemu')
        return True
    except libvirt.libvirtError:
        return False
    finally:
        connection.close()


def test_image_ready():
    """Build the tiny test guest when missing; False (no real agent) when that fails."""
    result = subprocess.run(['bash', str(TOP / 'tools' / 'build-test-image.sh')],
                            capture_output=True, text=True)
    if result.returncode != 0:
        print(f'    no real agent: the test image could not be built: '
              f'{result.stderr.strip()[-300:]}')
    return result.returncode == 0
