"""Live migration of a real guest between two libvirt daemons on this one machine.

Source: the machine's libvirtd (qemu:///system).  Destination: a private
libvirtd (tests/functional/private_libvirtd.py) in its own mount namespace,
with its own host UUID, sockets, run and state directories and its own
hugetlbfs mount (which counts exactly the pages its guests hold).  Each side
is the agent's real InstanceDriver; the move is the source driver's
``migrate_out``: libvirt peer-to-peer (the system libvirtd talks to the
private one over its UNIX socket, ``qemu+unix:///system?socket=...``), the
guest's memory over a UNIX socket too (``unix://`` migration URI), with the
destination driver's XML.  No network address is involved.

The guest is the project's test image (tools/build-test-image.sh) under TCG:
1 vCPU pinned to pCPU 0 with its emulator threads, 128 MiB of 2 MiB
hugepages, no NIC (both daemons share one network namespace, so the tap the
destination would create has the name the source's tap still holds).  With
``kvmfleet_tick`` it prints a heartbeat each second (tick count, boot id,
uptime): the destination's console must go on with the same boot id and
later ticks and never show a boot.

KVMFLEET_TEST_IMAGE_DIR builds and uses the test image elsewhere than
/var/lib/kvmfleet/images/test-guest (while checkouts with an older image
version share the machine).
"""

import dataclasses
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import tempfile
import threading
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
from agent.results import COLD_MIGRATION_UNSUPPORTED, MIGRATION_FAILED
from tests.conftest import REPO_ROOT, missing_service
from tests.functional.agent.test_real_guest import launch_failure
from tests.functional.private_libvirtd import PrivateLibvirtd
from wire.assignment import Assignment, CellAssignment
from wire.request_spec import CPU_DEDICATED, GuestCell, RequestSpec

pytestmark = pytest.mark.libvirt

SYSTEM_URI = 'qemu:///system'
STATE_ROOT = pathlib.Path('/var/lib/kvmfleet')
IMAGE_DIR = pathlib.Path(os.environ.get('KVMFLEET_TEST_IMAGE_DIR',
                                        '/var/lib/kvmfleet/images/test-guest'))
MEMORY_MB = 128
PAGE_KB = 2048
GUEST_PAGES = MEMORY_MB * 1024 // PAGE_KB
SOURCE_PCPU, DEST_PCPU = 0, 1
HOLD_S = 300
TICK = re.compile(r'KVMFLEET tick=(\d+) boot_id=(\S+) uptime=([\d.]+)')
MIGRATION_TIMEOUT_S = 60
SLOW_COPY_MIB = 4
# waits end as soon as the console shows it; long only for a machine under heavy load (TCG)
BOOT_TIMEOUT_S = 90
TICK_TIMEOUT_S = 30


def ticks(text):
    """[(tick, boot_id, uptime)] of the console text."""
    return [(int(t), boot, float(up)) for t, boot, up in TICK.findall(text)]


def wait_for(predicate, timeout, interval=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


def request(host, instance, pcpu):
    spec = RequestSpec(name='migrating-guest', vcpus=1, memory_mb=MEMORY_MB,
                       cpu_policy=CPU_DEDICATED, dedicated_vcpus=frozenset({0}),
                       numa_cells=(GuestCell(0, (0,), MEMORY_MB),), page_size=PAGE_KB)
    claim = Assignment(host=host, instance=instance, vcpus=1, memory_mb=MEMORY_MB,
                       cells=(CellAssignment(0, 0, (0,), MEMORY_MB, PAGE_KB, {0: pcpu},
                                             frozenset()),))
    return spec, claim


def hugetlb_mapped_kb(pid):
    """KiB of the process's mappings backed by 2 MiB pages (its guest RAM)."""
    total, size = 0, 0
    for line in pathlib.Path(f"/proc/{pid}/smaps").read_text().splitlines():
        if line.startswith('Size:'):
            size = int(line.split()[1])
        elif line.startswith('KernelPageSize:') and int(line.split()[1]) == PAGE_KB:
            total += size
    return total


def qemu_pid(run_dir, name):
    try:
        return int((run_dir / 'qemu' / f"{name}.pid").read_text().strip())
    except (OSError, ValueError):
        return None


def alive(pid):
    return pid is not None and os.path.exists(f"/proc/{pid}")


@pytest.fixture(scope='module')
def image():
    script = REPO_ROOT / 'tools' / 'build-test-image.sh'
    result = subprocess.run(['bash', str(script), str(IMAGE_DIR)], capture_output=True,
                            text=True, timeout=300)
    if result.returncode != 0:
        missing_service(f"test image could not be built: {result.stderr[-500:]}")
    data = json.loads((IMAGE_DIR / 'image.json').read_text())
    data['cmdline'] = f"{data['cmdline']} kvmfleet_hold={HOLD_S} kvmfleet_tick"
    return data


@pytest.fixture(scope='module')
def workdir():
    if os.geteuid() != 0 or not shutil.which('unshare') or not shutil.which('tini'):
        missing_service('a private libvirtd needs root, unshare and tini')
    if os.cpu_count() < 2:
        missing_service('source and destination pin to pCPUs 0 and 1: needs 2 host CPUs')
    STATE_ROOT.mkdir(parents=True, exist_ok=True)
    path = pathlib.Path(tempfile.mkdtemp(dir=STATE_ROOT, prefix='test-migration-'))
    for sub in ('source', 'destination', 'migration'):
        (path / sub).mkdir()
    for sub in ('', 'source', 'destination'):
        os.chmod(path / sub, 0o755)
    os.chmod(path / 'migration', 0o777)      # the destination's QEMU makes its socket here
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope='module')
def destination_daemon(workdir):
    daemon = PrivateLibvirtd(workdir / 'daemon', host_uuid=str(uuid_lib.uuid4()),
                             hugepages_mb=2 * MEMORY_MB)
    try:
        daemon.start()
    except RuntimeError as exc:
        missing_service(str(exc))
    yield daemon
    daemon.stop()


def driver_for(conn, name, instances, migration_uri=None):
    settings = HostSettings(dedicated_set=frozenset({0, 1}), reserved_host_memory_mb=0,
                            virt_type='qemu')
    topology = discover(conn, settings, host_name=name).topology
    config = DriverConfig(instances_path=str(instances), images_path=str(IMAGE_DIR),
                          virt_type='qemu', launch_timeout=20, graceful_shutdown_timeout=0.5,
                          migration_uri=migration_uri,
                          migration_data_uri=f"unix://{instances.parent}/migration/guest.sock")
    return InstanceDriver(conn, topology, config)


@pytest.fixture(scope='module')
def hosts(workdir, destination_daemon):
    source_conn = LibvirtConnection(SYSTEM_URI)
    try:
        source_conn.hostname()
    except LibvirtError as exc:
        missing_service(f"libvirtd not reachable at {SYSTEM_URI}: {exc}")
    dest_conn = LibvirtConnection(destination_daemon.uri)
    # the private daemon reaches the machine's socket through this process's mount namespace
    system_socket = f"/proc/{os.getpid()}/root/run/libvirt/libvirt-sock"
    source = driver_for(source_conn, 'source-host', workdir / 'source',
                        f"qemu+unix:///system?socket={system_socket}")
    dest = driver_for(dest_conn, 'destination-host', workdir / 'destination')
    yield source, dest
    source_conn.close()
    dest_conn.close()


@pytest.fixture(scope='module')
def disk_image(image, workdir):
    """The test image with a (blank) base disk: each instance gets a qcow2 overlay of it."""
    base = workdir / 'base.qcow2'
    subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', str(base), '16M'], check=True)
    os.chmod(base, 0o644)
    return dict(image, disk=str(base), disk_format='qcow2')


@pytest.fixture(scope='module')
def guest(hosts, disk_image, destination_daemon):
    """The guest (with a disk overlay) running on the source, ticking; removed at the end."""
    source, dest = hosts
    instance = str(uuid_lib.uuid4())
    spec, claim = request('source-host', instance, SOURCE_PCPU)
    result = source.build_and_launch(spec, claim, disk_image)
    assert result.ok, launch_failure(result)
    try:
        assert wait_for(lambda: ticks(source.console_log(instance)), BOOT_TIMEOUT_S), \
            source.console_log(instance)[-2000:]
        yield {'instance': instance, 'spec': spec, 'image': disk_image,
               'source_pid': qemu_pid(pathlib.Path('/run/libvirt'), domain_name(instance))}
    finally:
        for driver in (source, dest):
            driver.delete(instance)


def prepared(dest, guest):
    spec, claim = request('destination-host', guest['instance'], DEST_PCPU)
    result = dest.prepare_incoming(guest['spec'], claim, guest['image'])
    assert result.ok, launch_failure(result)
    return claim, dest.incoming_xml(guest['spec'], claim, guest['image'])


def still_ticking_on(driver, instance, after_tick):
    """The guest's latest tick once it is past ``after_tick`` (None if it stopped)."""
    return wait_for(lambda: [t for t in ticks(driver.console_log(instance))
                             if t[0] > after_tick], TICK_TIMEOUT_S)


@pytest.mark.parametrize('refusal', ['destination cannot start the guest',
                                     'destination daemon is gone'])
def test_a_refused_migration_leaves_the_guest_running_on_the_source(hosts, guest, refusal,
                                                                     destination_daemon):
    source, dest = hosts
    instance = guest['instance']
    _, xml = prepared(dest, guest)
    uri = dest.migration_uri()
    if refusal == 'destination cannot start the guest':
        xml = xml.replace(str(IMAGE_DIR / 'vmlinuz'), str(IMAGE_DIR / 'no-such-kernel'))
    else:
        uri = f"qemu+unix:///system?socket={destination_daemon.root}/run/gone-sock"
    last = ticks(source.console_log(instance))[-1]

    failed = source.migrate_out(instance, uri, xml, data_uri=dest.migration_data_uri(),
                                timeout=MIGRATION_TIMEOUT_S)

    print(f"\n{refusal}: {failed.reason}: {failed.detail[:300]}")
    assert failed.reason == MIGRATION_FAILED and failed.state == 'running', failed
    assert source.state(instance) == 'running' and dest.state(instance) is None
    assert alive(guest['source_pid'])
    later = still_ticking_on(source, instance, last[0])
    assert later and later[-1][1] == last[1], 'the guest stopped or rebooted on the source'
    dest.abort_incoming(instance)
    assert not os.path.exists(dest.instance_dir(instance))
    assert destination_daemon.hugepages_used() == 0


def test_a_destination_that_dies_mid_migration_leaves_the_guest_running_on_the_source(
        hosts, guest, destination_daemon):
    """The destination's QEMU is killed while the memory is on its way (copy slowed to
    SLOW_COPY_MIB per second): libvirt fails the job and the guest runs on at the source."""
    source, dest = hosts
    instance, name = guest['instance'], domain_name(guest['instance'])
    _, xml = prepared(dest, guest)
    last = ticks(source.console_log(instance))[-1]
    killed = []

    def kill_the_destination():
        pid = wait_for(lambda: qemu_pid(destination_daemon.root / 'run', name), 30, 0.05)
        time.sleep(0.5)
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
    killer = threading.Thread(target=kill_the_destination)
    killer.start()
    source.config = dataclasses.replace(source.config, migration_bandwidth=SLOW_COPY_MIB)
    try:
        failed = source.migrate_out(instance, dest.migration_uri(), xml,
                                    data_uri=dest.migration_data_uri(),
                                    timeout=MIGRATION_TIMEOUT_S)
    finally:
        source.config = dataclasses.replace(source.config, migration_bandwidth=0)
        killer.join()

    print(f"\ndestination QEMU killed mid-migration: {failed.reason}: {failed.detail[:300]}")
    assert killed, 'the migration ended before the destination could be killed'
    assert failed.reason == MIGRATION_FAILED and failed.state == 'running', failed
    assert source.state(instance) == 'running' and alive(guest['source_pid'])
    later = still_ticking_on(source, instance, last[0])
    assert later and later[-1][1] == last[1], 'the guest stopped or rebooted on the source'
    assert wait_for(lambda: dest.state(instance) is None, TICK_TIMEOUT_S)
    dest.abort_incoming(instance)
    assert not os.path.exists(dest.instance_dir(instance))
    assert wait_for(lambda: destination_daemon.hugepages_used() == 0, TICK_TIMEOUT_S)


def test_live_migration_keeps_the_guest_running_on_the_claimed_pcpus_and_pages(
        hosts, guest, destination_daemon):
    source, dest = hosts
    instance, name = guest['instance'], domain_name(guest['instance'])
    claim, xml = prepared(dest, guest)
    assert hugetlb_mapped_kb(guest['source_pid']) == MEMORY_MB * 1024
    assert source.conn.vcpu_pin_info(name) == {0: frozenset({SOURCE_PCPU})}
    before = ticks(source.console_log(instance))
    free_before = hugepages_free()
    started = time.monotonic()

    moved = source.migrate_out(instance, dest.migration_uri(), xml,
                               data_uri=dest.migration_data_uri(), timeout=MIGRATION_TIMEOUT_S)

    seconds = time.monotonic() - started
    assert moved.ok and moved.state == 'migrated', moved
    print(f"\nlive migration of a {MEMORY_MB} MiB TCG guest over UNIX sockets: {seconds:.2f} s; "
          f"HugePages_Free {free_before} -> {hugepages_free()} (shared pool)")
    # the source: domain, QEMU and instance directory gone
    assert source.state(instance) is None
    assert wait_for(lambda: not alive(guest['source_pid']), TICK_TIMEOUT_S)
    assert not os.path.exists(source.instance_dir(instance))
    # the destination: running with the destination's claim, verified by the driver
    finished = dest.finish_incoming(instance, claim)
    assert finished.ok and finished.state == 'running', finished
    assert dest.conn.vcpu_pin_info(name) == {0: frozenset({DEST_PCPU})}
    assert dest.conn.emulator_pin_info(name) == frozenset({DEST_PCPU})
    live = ET.fromstring(dest.conn.domain_xml(name))
    assert live.find('cputune/vcpupin').get('cpuset') == str(DEST_PCPU)
    assert live.find('numatune/memnode').attrib == {'cellid': '0', 'mode': 'strict',
                                                    'nodeset': '0'}
    assert live.find('memoryBacking/hugepages/page').get('size') == str(PAGE_KB)
    # its RAM is in the destination's hugepages: all 64 pages of its own hugetlbfs
    dest_pid = qemu_pid(destination_daemon.root / 'run', name)
    assert hugetlb_mapped_kb(dest_pid) == MEMORY_MB * 1024
    assert destination_daemon.hugepages_used() == GUEST_PAGES
    # the same boot goes on: later ticks, same boot id, no boot on the destination console
    after = still_ticking_on(dest, instance, 0)
    assert after, dest.console_log(instance)[-2000:]
    console = dest.console_log(instance)
    assert 'KVMFLEET nproc' not in console and 'Linux version' not in console
    assert {boot for _, boot, _ in after} == {before[-1][1]}
    assert after[0][0] > before[-1][0] and after[0][2] > before[-1][2]
    assert seconds < MIGRATION_TIMEOUT_S
    # its disk overlay was copied to the destination's instance directory (NBD)
    disk = live.find('devices/disk/source').get('file')
    assert disk == os.path.join(dest.instance_dir(instance), 'disk.qcow2') and os.path.isfile(disk)


def test_cold_migration_stops_moves_and_boots_the_guest_with_the_claim(
        hosts, guest, image, destination_daemon):
    """The other way, from the private daemon to the machine's: a guest without a disk."""
    source, dest = hosts
    refused = dest.migrate_out(guest['instance'], source.migration_uri(), '<domain/>',
                               live=False)
    assert refused.reason == COLD_MIGRATION_UNSUPPORTED, refused    # its overlay stays
    assert dest.state(guest['instance']) == 'running'
    instance = str(uuid_lib.uuid4())
    name = domain_name(instance)
    spec, on_dest = request('destination-host', instance, SOURCE_PCPU)
    assert dest.build_and_launch(spec, on_dest, image).ok
    try:
        _, claim = request('source-host', instance, SOURCE_PCPU)
        assert source.prepare_incoming(spec, claim, image).ok
        xml = source.incoming_xml(spec, claim, image)
        started = time.monotonic()

        moved = dest.migrate_out(instance, source.migration_uri(), xml, live=False)

        assert moved.ok, moved
        assert dest.state(instance) is None and source.state(instance) == 'shutoff'
        assert destination_daemon.hugepages_used() == GUEST_PAGES     # the live-moved guest's
        finished = source.finish_incoming(instance, claim)
        print(f"\ncold migration (stop, offline move, start): {time.monotonic() - started:.2f} s")
        assert finished.ok and finished.state == 'running', finished
        assert source.conn.vcpu_pin_info(name) == {0: frozenset({SOURCE_PCPU})}
        assert hugetlb_mapped_kb(qemu_pid(pathlib.Path('/run/libvirt'), name)) == \
            MEMORY_MB * 1024
        # a cold move boots the guest: its new console on this host shows the boot
        assert wait_for(lambda: ticks(source.console_log(instance)), BOOT_TIMEOUT_S), \
            source.console_log(instance)[-2000:]
        assert 'KVMFLEET nproc=1' in source.console_log(instance)
    finally:
        for driver in (source, dest):
            driver.delete(instance)


def hugepages_free():
    text = pathlib.Path('/proc/meminfo').read_text()
    return int(re.search(r'^HugePages_Free:\s+(\d+)', text, re.M).group(1))


def test_a_resize_s_cold_move_keeps_the_stopped_source_for_a_revert(hosts, image):
    """keep_source (a resize): libvirt's offline move without UNDEFINE_SOURCE; the
    source's definition stays, stopped, and starts again with its own pins (revert).
    After the tests above the module's guest runs on the private daemon on DEST_PCPU:
    this guest takes SOURCE_PCPU on both sides."""
    source, dest = hosts
    instance = str(uuid_lib.uuid4())
    name = domain_name(instance)
    spec, on_source = request('source-host', instance, SOURCE_PCPU)
    assert source.build_and_launch(spec, on_source, image).ok
    try:
        _, claim = request('destination-host', instance, SOURCE_PCPU)
        assert dest.prepare_incoming(spec, claim, image).ok
        xml = dest.incoming_xml(spec, claim, image)
        moved = source.migrate_out(instance, dest.migration_uri(), xml, live=False,
                                   keep_source=True)
        assert moved.ok, moved
        assert (source.state(instance), dest.state(instance)) == ('shutoff', 'shutoff')
        assert dest.finish_incoming(instance, claim).state == 'running'
        assert dest.conn.vcpu_pin_info(name) == {0: frozenset({SOURCE_PCPU})}
        dest.delete(instance)                                   # the revert
        reverted = source.finish_incoming(instance, on_source)
        assert reverted.ok and reverted.state == 'running', reverted
        assert source.conn.vcpu_pin_info(name) == {0: frozenset({SOURCE_PCPU})}
    finally:
        for driver in (source, dest):
            driver.delete(instance)
