"""The kvmfleet demo: a scheduler, a simulated fleet and (when possible) a real agent on the bus.

Run through tools/demo.sh, which prepares the machine first.  Everything the demo starts
(services, their state directory, the VMs it boots) is stopped and removed when it ends,
also on Ctrl-C, so it can run again at once.  Each run uses its own RabbitMQ exchange, so
nothing left on the broker by another run or by the test suite reaches it.

When the services or the CLI's bus commands are not installed, the demo places the sample
requests on the sample fleet in-process instead (``kvmfleet simulate``).
"""

import argparse
import contextlib
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time

TOP = pathlib.Path(__file__).resolve().parents[1]
BIN = pathlib.Path(sys.executable).parent
FLEET_FILE = TOP / 'samples' / 'fleet.json'
REQUESTS_FILE = TOP / 'samples' / 'requests.json'
FLAVORS_FILE = TOP / 'etc' / 'kvmfleet' / 'flavors.yaml'
TRANSPORT_URL = os.environ.get('KVMFLEET_DEMO_TRANSPORT_URL',
                               'rabbit://guest:guest@127.0.0.1:5672/')
BUS_COMMANDS = ('boot', 'list', 'hosts', 'explain', 'delete')
START_TIMEOUT = 60
STOP_TIMEOUT = 15

# What the demo boots: (what it shows, kvmfleet boot arguments).
DEMO_BOOTS = [
    ('2 vCPUs pinned to dedicated pCPUs',
     ['pinned-1', '--vcpus', '2', '--memory', '2048',
      '--property', 'hw:cpu_policy=dedicated']),
    ('4 pinned vCPUs over 2 guest NUMA cells, backed by 1 GiB hugepages',
     ['hugepages-1', '--vcpus', '4', '--memory', '8192',
      '--property', 'hw:cpu_policy=dedicated', '--property', 'hw:numa_nodes=2',
      '--property', 'hw:mem_page_size=1GB']),
    ('pinned vCPUs, 2 MiB hugepages and a 4-queue virtio NIC',
     ['multiqueue-1', '--vcpus', '4', '--memory', '4096',
      '--property', 'hw:cpu_policy=dedicated', '--property', 'hw:mem_page_size=2MB',
      '--property', 'hw_vif_multiqueue_enabled=true']),
    ('an SR-IOV VF on physnet1 from the NUMA cell of its pinned vCPUs',
     ['sriov-1', '--vcpus', '4', '--memory', '4096',
      '--property', 'hw:cpu_policy=dedicated', '--property', 'hw:mem_page_size=large',
      '--port', 'physnet=physnet1']),
    ('three isolated pinned VMs (sibling hyperthreads kept free) in one request',
     ['isolated', '--vcpus', '2', '--memory', '2048', '--count', '3',
      '--property', 'hw:cpu_policy=dedicated', '--property', 'hw:cpu_thread_policy=isolate']),
]
# Larger than any host of the sample fleet: the scheduler answers NoValidHost and explains.
IMPOSSIBLE_BOOT = ['too-big-1', '--vcpus', '64', '--memory', '262144',
                   '--property', 'hw:cpu_policy=dedicated', '--property', 'hw:numa_nodes=1']


def banner(text):
    print(f'\n\033[1m=== {text}\033[0m', flush=True)


def command(name):
    return str(BIN / name)


def help_text(*argv):
    """The --help output of a command, or '' when it cannot run."""
    try:
        result = subprocess.run([*argv, '--help'], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return ''
    return result.stdout + result.stderr if result.returncode == 0 else ''


def missing_for_bus_demo():
    """What the bus demo needs and this checkout does not have yet (empty: all there)."""
    missing = []
    missing += [f'kvmfleet {name}' for name in BUS_COMMANDS
                if not help_text(command('kvmfleet'), name)]
    if not help_text(command('kvmfleet-scheduler')):
        missing.append('kvmfleet-scheduler')
    if '--simulate-fleet' not in help_text(command('kvmfleet-agent')):
        missing.append('kvmfleet-agent --simulate-fleet')
    if not FLEET_FILE.exists():
        missing.append(str(FLEET_FILE.relative_to(TOP)))
    return missing


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


def write_config(state_dir, exchange):
    """The configuration file shared by the scheduler, the simulated fleet and the CLI."""
    lines = ['[DEFAULT]', f'transport_url = {TRANSPORT_URL}',
             f'control_exchange = {exchange}', f'state_path = {state_dir}',
             '[oslo_messaging_rabbit]', 'amqp_auto_delete = true',
             '[database]', f'connection = sqlite:///{state_dir}/kvmfleet.sqlite']
    path = state_dir / 'kvmfleet.conf'
    path.write_text('\n'.join(lines) + '\n')
    return path


def write_real_agent_config(state_dir):
    """Settings of the real agent on this machine (read after the shared file)."""
    cpus = os.cpu_count() or 1
    dedicated = f'1-{cpus - 1}' if cpus > 1 else '0'
    lines = ['[compute]', f'cpu_dedicated_set = {dedicated}', 'cpu_shared_set = 0',
             '[libvirt]', 'virt_type = auto', 'connection_uri = qemu:///system']
    path = state_dir / 'kvmfleet-agent.conf'
    path.write_text('\n'.join(lines) + '\n')
    return path


def cli(config, *args, check=True, capture=False):
    """Run the kvmfleet CLI on the demo's bus; its output goes to the terminal unless captured."""
    argv = [command('kvmfleet'), '--config-file', str(config), *args]
    result = subprocess.run(argv, text=True, capture_output=capture, timeout=300)
    if check and result.returncode != 0:
        detail = (result.stderr or '').strip() if capture else ''
        raise DemoError(f"kvmfleet {' '.join(args)} failed ({result.returncode}) {detail}")
    return result


def wait_until(description, ready, processes, timeout=START_TIMEOUT):
    """Poll READY until it is true; fail after TIMEOUT seconds or when a service died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        processes.check_alive()
        if ready():
            return
        time.sleep(0.5)
    raise DemoError(f'{description} not ready after {timeout}s')


def host_count(config):
    result = cli(config, 'hosts', '--format', 'json', check=False, capture=True)
    if result.returncode != 0:
        return -1
    try:
        document = json.loads(result.stdout)
    except json.JSONDecodeError:
        return -1
    hosts = document.get('hosts', document) if isinstance(document, dict) else document
    return len(hosts)


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


def fleet_size():
    with open(FLEET_FILE, encoding='utf-8') as handle:
        return len(json.load(handle)['hosts'])


def start_fleet(config, state_dir, processes, with_real_agent):
    """Scheduler first, then the real agent (if any), then the simulated hosts."""
    banner('Starting a scheduler on an embedded SQLite store')
    processes.start('kvmfleet-scheduler',
                    [command('kvmfleet-scheduler'), '--config-file', str(config)])
    wait_until('the scheduler', lambda: host_count(config) >= 0, processes)
    expected = 0
    if with_real_agent:
        banner('Starting a real agent on this machine (libvirt qemu:///system)')
        agent_config = write_real_agent_config(state_dir)
        processes.start('kvmfleet-agent', [command('kvmfleet-agent'), '--config-file',
                                           str(config), '--config-file', str(agent_config)])
        expected += 1
        wait_until('the real agent', lambda: host_count(config) >= expected, processes)
    expected += fleet_size()
    banner(f'Starting a simulated fleet of {fleet_size()} hosts from '
           f'{FLEET_FILE.relative_to(TOP)}')
    processes.start('kvmfleet-agent-simulated',
                    [command('kvmfleet-agent'), '--config-file', str(config),
                     '--simulate-fleet', str(FLEET_FILE)])
    wait_until(f'{expected} hosts', lambda: host_count(config) >= expected, processes)


def boot_demo_vms(config):
    """Boot each demo request with progress shown; the titles of those that failed."""
    failed = []
    for title, arguments in DEMO_BOOTS:
        banner(f'Booting {arguments[0]}: {title}')
        print(f"$ kvmfleet boot {' '.join(arguments)} --wait", flush=True)
        if cli(config, 'boot', *arguments, '--wait', check=False).returncode != 0:
            failed.append(arguments[0])
    return failed


def show_no_valid_host(config):
    banner('A request no host can take: NoValidHost, and why')
    print(f"$ kvmfleet boot {' '.join(IMPOSSIBLE_BOOT)}", flush=True)
    if cli(config, 'boot', *IMPOSSIBLE_BOOT, check=False).returncode == 0:
        raise DemoError('the impossible request was placed: the sample fleet is too large')
    explain_arguments = IMPOSSIBLE_BOOT[1:]
    print(f"$ kvmfleet explain {' '.join(explain_arguments)}", flush=True)
    cli(config, 'explain', *explain_arguments, check=False)


def delete_all_instances(config):
    """Delete what the demo booted, so the real agent destroys its libvirt domains."""
    result = cli(config, 'list', '--format', 'json', check=False, capture=True)
    if result.returncode != 0:
        return
    try:
        document = json.loads(result.stdout)
    except json.JSONDecodeError:
        return
    instances = document.get('instances', document) if isinstance(document, dict) else document
    for instance in instances:
        cli(config, 'delete', instance['uuid'], check=False, capture=True)


def run_bus_demo(keep_state):
    with_real_agent = libvirt_can_run_qemu()
    state_dir = pathlib.Path(tempfile.mkdtemp(prefix='kvmfleet-demo-'))
    state_dir.chmod(0o755)  # QEMU (user libvirt-qemu) reads console logs and images here
    exchange = f'kvmfleet-demo-{os.getpid()}'
    config = write_config(state_dir, exchange)
    processes = Processes(state_dir)
    try:
        start_fleet(config, state_dir, processes, with_real_agent)
        failed = boot_demo_vms(config)
        banner('Placement: which host, which cells, which pCPUs, pages and VFs')
        cli(config, 'list')
        banner('Usage per host and NUMA cell')
        cli(config, 'hosts')
        show_no_valid_host(config)
        if failed:
            raise DemoError(f"these demo boots failed: {', '.join(failed)}")
    finally:
        banner('Stopping what the demo started')
        if processes.running and with_real_agent:
            delete_all_instances(config)
        processes.stop_all()
        if keep_state:
            print(f'    state and logs kept in {state_dir}')
        else:
            shutil.rmtree(state_dir, ignore_errors=True)


def run_file_demo(missing):
    """The in-process placement of the sample requests on the sample fleet."""
    banner('The bus services are not installed yet: placing in-process instead')
    print(f"    (missing for the bus demo: {', '.join(missing)})")
    if not help_text(command('kvmfleet'), 'simulate'):
        raise DemoError('neither the bus commands nor kvmfleet simulate are installed')
    for path in (FLEET_FILE, REQUESTS_FILE):
        if not path.exists():
            raise DemoError(f'{path.relative_to(TOP)} is missing')
    arguments = ['simulate', '--fleet', str(FLEET_FILE.relative_to(TOP)),
                 '--requests', str(REQUESTS_FILE.relative_to(TOP)),
                 '--flavors', str(FLAVORS_FILE.relative_to(TOP)), '--explain']
    print(f"$ kvmfleet {' '.join(arguments)}", flush=True)
    result = subprocess.run([command('kvmfleet'), *arguments], cwd=TOP)
    if result.returncode not in (0, 1):
        raise DemoError(f'kvmfleet simulate failed ({result.returncode})')


def _stop_on_signal(signum, _frame):
    # SIGTERM/SIGHUP unwind through the finally blocks like Ctrl-C does.
    raise KeyboardInterrupt(f'signal {signum}')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--keep-state', action='store_true',
                        help='keep the state directory and service logs after the demo')
    parser.add_argument('--in-process', action='store_true',
                        help='skip the bus demo: place the sample requests in-process')
    options = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _stop_on_signal)
    signal.signal(signal.SIGHUP, _stop_on_signal)
    os.chdir(TOP)
    try:
        missing = ['--in-process given'] if options.in_process else missing_for_bus_demo()
        if missing:
            run_file_demo(missing)
        else:
            run_bus_demo(options.keep_state)
    except DemoError as error:
        print(f'demo: {error}', file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print('demo: interrupted; everything it started is stopped', file=sys.stderr)
        return 130
    banner('Demo finished')
    return 0


if __name__ == '__main__':
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main())
