"""The kvmfleet demo: a scheduler, a simulated fleet and (when possible) a real agent on the bus.

Run through tools/demo.sh, which prepares the machine first.  Everything the demo starts
(services, their state directory, the VMs it boots, its RabbitMQ vhost) is stopped and
removed when it ends, also on Ctrl-C, so it can run again at once.  The demo's own vhost keeps
it apart from anything else on the broker (the test suite, an earlier interrupted run).

``--in-process`` places the sample requests on the sample fleet without any service
(``kvmfleet simulate``).
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

from demo_env import (
    DEMO_VHOST,
    FLAVORS_FILE,
    FLEET_FILE,
    TEST_IMAGE,
    TOP,
    DemoError,
    Processes,
    check_broker,
    command,
    fresh_vhost,
    libvirt_can_run_qemu,
    manage_command,
    rabbitmqctl,
    test_image_ready,
    wait_until,
    write_config,
    write_real_agent_config,
)

REQUESTS_FILE = TOP / 'samples' / 'requests.json'

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
      '--property', 'hw_vif_multiqueue_enabled=true',
      '--port', 'physnet=physnet1,vnic_type=normal']),
    ('an SR-IOV VF on physnet1 from the NUMA cell of its pinned vCPUs',
     ['sriov-1', '--vcpus', '4', '--memory', '4096',
      '--property', 'hw:cpu_policy=dedicated', '--property', 'hw:mem_page_size=large',
      '--port', 'physnet=physnet1']),
    ('three isolated pinned VMs (sibling hyperthreads kept free) in one request',
     ['isolated', '--vcpus', '2', '--memory', '2048', '--count', '3',
      '--property', 'hw:cpu_policy=dedicated', '--property', 'hw:cpu_thread_policy=isolate']),
]
# The real guest: the test image prints its CPUs, NUMA nodes and NIC queues, then powers off.
REAL_BOOT = ['real-1', '--vcpus', '1', '--memory', '256', '--image', TEST_IMAGE,
             '--property', 'hw:cpu_policy=dedicated']
# One guest cell wider than any host cell of the sample fleet (24 dedicated pCPUs at most):
# the scheduler answers NoValidHost and explains.
IMPOSSIBLE_BOOT = ['too-wide-1', '--vcpus', '28', '--memory', '16384',
                   '--property', 'hw:cpu_policy=dedicated', '--property', 'hw:numa_nodes=1',
                   '--property', 'hw:mem_page_size=1GB']
# Instances whose exact assignment the demo prints with `kvmfleet show`.
SHOWN_INSTANCES = ('hugepages-1', 'sriov-1')


def banner(text):
    bold, plain = ('\033[1m', '\033[0m') if sys.stdout.isatty() else ('', '')
    print(f'\n{bold}=== {text}{plain}', flush=True)


def cli(config, *args, check=True, capture=False, timeout=300):
    """Run the kvmfleet CLI on the demo's bus; its output goes to the terminal unless captured."""
    argv = [command('kvmfleet'), '--config-file', str(config), *args]
    try:
        result = subprocess.run(argv, text=True, capture_output=capture, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise DemoError(f"kvmfleet {' '.join(args)} did not answer in {timeout}s")
    if check and result.returncode != 0:
        detail = (result.stderr or '').strip() if capture else ''
        raise DemoError(f"kvmfleet {' '.join(args)} failed ({result.returncode}) {detail}")
    return result


def host_count(config):
    """How many hosts the scheduler knows; -1 while it does not answer."""
    try:
        result = cli(config, 'hosts', '--format', 'json', '--timeout', '5', check=False,
                     capture=True, timeout=30)
    except DemoError:
        return -1
    if result.returncode != 0:
        return -1
    try:
        document = json.loads(result.stdout)
    except json.JSONDecodeError:
        return -1
    hosts = document.get('hosts', document) if isinstance(document, dict) else document
    return len(hosts)


def fleet_size():
    with open(FLEET_FILE, encoding='utf-8') as handle:
        return len(json.load(handle)['hosts'])


def start_fleet(config, state_dir, processes, with_real_agent):
    """Scheduler first, then the real agent (if any), then the simulated hosts."""
    banner('Creating the store: kvmfleet-manage db sync')
    subprocess.run([*manage_command(), '--config-file', str(config), 'db', 'sync'],
                   check=True, timeout=120)
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
        boot_real_vm(config)
    expected += fleet_size()
    banner(f'Starting a simulated fleet of {fleet_size()} hosts from '
           f'{FLEET_FILE.relative_to(TOP)}')
    processes.start('kvmfleet-agent-simulated',
                    [command('kvmfleet-agent'), '--config-file', str(config),
                     '--simulate-fleet', str(FLEET_FILE)])
    wait_until(f'{expected} hosts', lambda: host_count(config) >= expected, processes)


def boot_real_vm(config):
    """While this machine is the only host, boot a real QEMU guest with a pinned vCPU."""
    banner(f'Booting {REAL_BOOT[0]} on this machine: a real QEMU guest, its vCPU pinned')
    print(f"$ kvmfleet boot {' '.join(REAL_BOOT)} --wait", flush=True)
    cli(config, 'boot', *REAL_BOOT, '--wait', check=False)
    # The test guest powers itself off once it has printed what it sees: STOPPED is success.
    shown = json.loads(cli(config, 'show', REAL_BOOT[0], '--format', 'json',
                           capture=True).stdout)
    if shown.get('state') not in ('ACTIVE', 'STOPPED'):
        raise DemoError(f"{REAL_BOOT[0]} did not boot on the real agent: {shown.get('state')} "
                        f"{shown.get('reason') or ''}")


def show_real_console(config):
    banner(f'What the guest {REAL_BOOT[0]} saw (its serial console)')
    print(f'$ kvmfleet console-log {REAL_BOOT[0]}', flush=True)
    cli(config, 'console-log', REAL_BOOT[0], check=False)


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
    fresh_vhost()
    check_broker()
    with_real_agent = libvirt_can_run_qemu()
    if not with_real_agent:
        print('    no real agent: libvirt cannot run QEMU guests here (qemu:///system)')
    with_real_agent = with_real_agent and test_image_ready()
    state_dir = pathlib.Path(tempfile.mkdtemp(prefix='kvmfleet-demo-'))
    state_dir.chmod(0o755)  # QEMU (user libvirt-qemu) reads console logs and images here
    config = write_config(state_dir)
    processes = Processes(state_dir)
    try:
        start_fleet(config, state_dir, processes, with_real_agent)
        failed = boot_demo_vms(config)
        banner('Placement table')
        print('$ kvmfleet list', flush=True)
        cli(config, 'list')
        for name in SHOWN_INSTANCES:
            banner(f'Exact assignment of {name}: host cells, pinned pCPUs, pages, VFs')
            print(f'$ kvmfleet show {name}', flush=True)
            cli(config, 'show', name, check=False)
        banner('Usage per host and NUMA cell')
        print('$ kvmfleet hosts', flush=True)
        cli(config, 'hosts')
        show_no_valid_host(config)
        if with_real_agent:
            show_real_console(config)
        if failed:
            raise DemoError(f"these demo boots failed: {', '.join(failed)}")
    finally:
        banner('Stopping what the demo started')
        if processes.running and with_real_agent:
            delete_all_instances(config)
        processes.stop_all()
        rabbitmqctl('delete_vhost', DEMO_VHOST)
        if keep_state:
            print(f'    state and logs kept in {state_dir}')
        else:
            shutil.rmtree(state_dir, ignore_errors=True)


def run_file_demo():
    """The in-process placement of the sample requests on the sample fleet."""
    banner('Placing the sample requests on the sample fleet in-process (no services)')
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
        if options.in_process:
            run_file_demo()
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
