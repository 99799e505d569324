"""A real guest on this machine's libvirtd + QEMU, launched through the agent's build path.

One guest for the module: 2 vCPUs pinned to dedicated pCPUs 0 and 1, one NUMA
cell backed by 2 MiB hugepages, a virtio-net tap with multiqueue by default (not
asked for).  Its busybox
/init (tools/build-test-image.sh) prints what the guest sees on the serial
console; the host side is read from libvirt (vcpuPinInfo) and /proc/meminfo.

virt type: kvm when a probe guest runs under it, else qemu (TCG); nested KVM
on these machines starts QEMU but the guest never runs (ENVIRONMENT.md).
KVMFLEET_TEST_VIRT_TYPE=kvm|qemu skips the probe.
"""

import json
import os
import pathlib
import re
import shutil
import subprocess
import tempfile
import time
import uuid as uuid_lib
import xml.etree.ElementTree as ET

import pytest

from agent.discovery.host import discover
from agent.discovery.opts import HostSettings
from agent.domain import domain_name
from agent.driver import InstanceDriver
from agent.driver_opts import DriverConfig
from agent.exceptions import LibvirtError
from agent.libvirt_conn import LibvirtConnection
from tests.conftest import REPO_ROOT, missing_service
from wire.assignment import Assignment, CellAssignment
from wire.request_spec import CPU_DEDICATED, GuestCell, PortRequest, RequestSpec

pytestmark = pytest.mark.libvirt

URI = 'qemu:///system'
IMAGE_DIR = pathlib.Path('/var/lib/kvmfleet/images/test-guest')
STATE_ROOT = pathlib.Path('/var/lib/kvmfleet')
GUEST_MEMORY_MB = 256
PAGE_KB = 2048
PINS = {0: 0, 1: 1}
HOLD_S = 40                  # the guest stays up this long after printing (host-side checks)
CONSOLE_TIMEOUT_S = 30
KVM_PROBE_S = 8


def hugepages_free():
    text = pathlib.Path('/proc/meminfo').read_text()
    return int(re.search(r'^HugePages_Free:\s+(\d+)', text, re.M).group(1))


def launch_failure(result):
    """The whole of a failed launch: its detail, and the tail of any log libvirt points to.

    libvirt's start errors end in "see '<log>' for details" (QEMU's, swtpm's): a
    failure on a CI machine must say what that log said, not a truncated repr.
    """
    text = f"{result.reason}: {result.detail}"
    for path in re.findall(r"'(/[^']+\.log)'", result.detail or ''):
        try:
            lines = pathlib.Path(path).read_text(errors='replace').splitlines()[-20:]
        except OSError as exc:
            lines = [f"(unreadable: {exc})"]
        text += f"\n--- {path} (last lines) ---\n" + "\n".join(lines)
    return text


def wait_for_console(driver, uuid, needle, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = driver.console_log(uuid)
        if needle in text:
            return text
        if driver.state(uuid) != 'running':
            break
        time.sleep(0.1)
    return driver.console_log(uuid)


def console_values(text):
    """KVMFLEET key=value lines -> {'nproc': '2', 'nodes': {id: (cpus, kb)}, ...}."""
    values, nodes = {}, {}
    for line in text.splitlines():
        if not line.startswith('KVMFLEET '):
            continue
        node = re.match(r'KVMFLEET node=(\d+) cpus=(\S+) memtotal_kb=(\d+)', line)
        if node:
            nodes[int(node.group(1))] = (node.group(2), int(node.group(3)))
        else:
            key, _, value = line[len('KVMFLEET '):].partition('=')
            values[key.strip()] = value.strip()
    values['nodes'] = nodes
    return values


def guest_request():
    instance = str(uuid_lib.uuid4())
    spec = RequestSpec(name='real-guest', vcpus=2, memory_mb=GUEST_MEMORY_MB,
                       cpu_policy=CPU_DEDICATED, dedicated_vcpus=frozenset(PINS),
                       numa_cells=(GuestCell(0, (0, 1), GUEST_MEMORY_MB),), page_size=PAGE_KB,
                       ports=(PortRequest(),))     # multiqueue unset: on by default
    placed = Assignment(host='this-host', instance=instance, vcpus=2, memory_mb=GUEST_MEMORY_MB,
                        cells=(CellAssignment(0, 0, (0, 1), GUEST_MEMORY_MB, PAGE_KB, dict(PINS),
                                              frozenset()),))
    return spec, placed


@pytest.fixture(scope='module')
def conn():
    connection = LibvirtConnection(URI)
    try:
        connection.hostname()
    except LibvirtError as exc:
        missing_service(f"libvirtd not reachable at {URI}: {exc}")
    yield connection
    connection.close()


@pytest.fixture(scope='module')
def image():
    script = REPO_ROOT / 'tools' / 'build-test-image.sh'
    result = subprocess.run(['bash', str(script), str(IMAGE_DIR)], capture_output=True,
                            text=True, timeout=300)
    if result.returncode != 0:
        missing_service(f"test image could not be built: {result.stderr[-500:]}")
    data = json.loads((IMAGE_DIR / 'image.json').read_text())
    data['cmdline'] = f"{data['cmdline']} kvmfleet_hold={HOLD_S}"
    return data


@pytest.fixture(scope='module')
def host(conn):
    """This machine as the agent discovers it, both CPUs dedicated, no host reserve."""
    if os.cpu_count() < 2:
        missing_service('this test pins 2 vCPUs to pCPUs 0 and 1: needs 2 host CPUs')
    settings = HostSettings(dedicated_set=frozenset({0, 1}), reserved_host_memory_mb=0,
                            virt_type='qemu')
    topology = discover(conn, settings, host_name='this-host').topology
    if hugepages_free() < GUEST_MEMORY_MB * 1024 // PAGE_KB:
        missing_service('not enough free 2 MiB hugepages (tools/setup-host.sh reserves them)')
    return topology


@pytest.fixture(scope='module')
def instances_path():
    STATE_ROOT.mkdir(parents=True, exist_ok=True)
    path = tempfile.mkdtemp(dir=STATE_ROOT, prefix='test-instances-')
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def make_driver(conn, host, instances_path, virt_type):
    config = DriverConfig(instances_path=instances_path, images_path=str(IMAGE_DIR),
                          virt_type=virt_type, launch_timeout=20)
    return InstanceDriver(conn, host, config)


def detect_virt_type(conn, host, instances_path, image):
    """kvm if a probe guest prints its first line under it, else qemu."""
    forced = os.environ.get('KVMFLEET_TEST_VIRT_TYPE')
    if forced:
        return forced
    driver = make_driver(conn, host, instances_path, 'kvm')
    result = driver.build_and_launch(*guest_request(), image)
    try:
        if result.ok and 'KVMFLEET nproc' in wait_for_console(driver, result.uuid,
                                                              'KVMFLEET nproc', KVM_PROBE_S):
            return 'kvm'
        return 'qemu'
    finally:
        driver.delete(result.uuid)


@pytest.fixture(scope='module')
def guest(conn, host, instances_path, image):
    """Boot the one guest; record host-side facts while it runs."""
    virt_type = detect_virt_type(conn, host, instances_path, image)
    driver = make_driver(conn, host, instances_path, virt_type)
    spec, placed = guest_request()
    free_before = hugepages_free()
    started = time.monotonic()
    result = driver.build_and_launch(spec, placed, image)
    assert result.ok, launch_failure(result)
    facts = {
        'driver': driver, 'result': result, 'virt_type': virt_type,
        'free_before': free_before, 'free_running': hugepages_free(),
        'pins': conn.vcpu_pin_info(domain_name(result.uuid)),
        'live_xml': conn.domain_xml(domain_name(result.uuid)),
    }
    facts['console'] = wait_for_console(driver, result.uuid, 'KVMFLEET done', CONSOLE_TIMEOUT_S)
    facts['boot_s'] = time.monotonic() - started
    yield facts
    driver.delete(result.uuid)


def test_guest_sees_two_vcpus(guest):
    assert console_values(guest['console']).get('nproc') == '2', guest['console'][-2000:]


def test_guest_sees_one_numa_node_with_its_memory(guest):
    nodes = console_values(guest['console'])['nodes']
    assert list(nodes) == [0], guest['console'][-2000:]
    cpus, memtotal_kb = nodes[0]
    assert cpus == '0-1'
    # MemTotal excludes what the guest kernel keeps for itself: most, never more, of 256 MiB
    assert GUEST_MEMORY_MB * 1024 * 0.7 < memtotal_kb <= GUEST_MEMORY_MB * 1024


def test_guest_eth0_has_one_queue_pair_per_vcpu(guest):
    values = console_values(guest['console'])
    assert values.get('eth0_rx_queues') == '2', guest['console'][-2000:]
    assert values.get('eth0_queues', '').split() == ['rx-0', 'rx-1', 'tx-0', 'tx-1']


def test_host_pins_each_vcpu_to_its_assigned_pcpu(guest):
    assert guest['pins'] == {vcpu: frozenset({pcpu}) for vcpu, pcpu in PINS.items()}


def test_host_hugepages_taken_while_running(guest):
    needed = GUEST_MEMORY_MB * 1024 // PAGE_KB
    assert guest['free_before'] - guest['free_running'] == needed


def test_domain_runs_with_the_built_numatune_hugepages_and_queues(guest):
    live = ET.fromstring(guest['live_xml'])
    assert live.find('numatune/memory').attrib == {'mode': 'strict', 'nodeset': '0'}
    assert live.find('memoryBacking/hugepages/page').get('size') == str(PAGE_KB)
    interface = live.find('devices/interface')
    assert interface.get('type') == 'ethernet'
    assert interface.find('driver').get('queues') == '2'
    assert live.get('type') == guest['virt_type']
    assert guest['boot_s'] < 45


def test_stop_returns_the_hugepages_and_start_takes_them_again(guest):
    driver, uuid = guest['driver'], guest['result'].uuid
    driver.stop(uuid)
    assert driver.state(uuid) == 'shutoff'
    assert hugepages_free() == guest['free_before']
    started = driver.start(uuid)
    assert started.ok, started
    assert guest['free_before'] - hugepages_free() == GUEST_MEMORY_MB * 1024 // PAGE_KB
    assert driver.conn.vcpu_pin_info(domain_name(uuid)) == guest['pins']


def test_delete_removes_everything(guest):
    driver, uuid = guest['driver'], guest['result'].uuid
    driver.delete(uuid)
    assert driver.state(uuid) is None
    assert not os.path.exists(driver.instance_dir(uuid))
    deadline = time.monotonic() + 5
    while hugepages_free() != guest['free_before'] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert hugepages_free() == guest['free_before']
