"""The instance disk on every ``hw_disk_bus``, seen by a real guest on this machine's libvirtd.

One small TCG guest per bus (virtio, scsi on a virtio-scsi controller, sata,
usb), all four launched through the agent's build path at once: the driver
makes the qcow2 overlay over the image's base disk, the builder puts it on the
bus.  The guest is the device test image (tools/build-test-image.sh --devices:
Debian's generic kernel with the block, AHCI and USB storage drivers); its
/init prints each disk's sysfs path, which names the bus the disk sits on, and
the disk's first bytes, which are the base image's marker read through the
overlay.
"""

import json
import pathlib
import re
import subprocess
import time
import uuid as uuid_lib
import xml.etree.ElementTree as ET

import pytest

from agent.discovery.host import discover
from agent.discovery.opts import HostSettings
from agent.domain import domain_name
from tests.conftest import REPO_ROOT, missing_service
from tests.functional.agent.test_real_guest import (  # noqa: F401  (module fixtures)
    conn,
    instances_path,
    make_driver,
)
from wire.assignment import Assignment, CellAssignment
from wire.request_spec import GuestCell, RequestSpec

pytestmark = pytest.mark.libvirt

DEVICES_IMAGE_DIR = pathlib.Path('/var/lib/kvmfleet/images/test-guest-devices')
GUEST_MEMORY_MB = 128
CONSOLE_TIMEOUT_S = 120        # a bound for a loaded machine; the guests print within ~10 s
DISK_LINE = re.compile(r'^KVMFLEET disk=(\S+) path=(\S+) marker=(\S*)', re.M)
# bus -> (the guest's device name, a piece of its sysfs path that only that bus gives)
EXPECTED = {'virtio': ('vda', '/virtio'), 'scsi': ('sda', '/virtio'),
            'sata': ('sda', '/ata'), 'usb': ('sda', '/usb')}


@pytest.fixture(scope='module')
def devices_image():
    """The device guest (tools/build-test-image.sh --devices)."""
    script = REPO_ROOT / 'tools' / 'build-test-image.sh'
    result = subprocess.run(['bash', str(script), '--devices', str(DEVICES_IMAGE_DIR)],
                            capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        missing_service(f"device test image could not be built: {result.stderr[-500:]}")
    return json.loads((DEVICES_IMAGE_DIR / 'image.json').read_text())


@pytest.fixture(scope='module')
def guests(conn, instances_path, devices_image):  # noqa: F811  (fixtures imported above)
    """bus -> (live domain XML, console text) of one guest per bus, run side by side."""
    host = discover(conn, HostSettings(reserved_host_memory_mb=0, virt_type='qemu'),
                    host_name='this-host').topology
    shared = host.cell(0).shared_cpus
    if not shared or host.cell(0).small_page_mb < GUEST_MEMORY_MB * len(EXPECTED):
        missing_service('the disk-bus guests need a shared pCPU and 512 MiB on cell 0')
    driver = make_driver(conn, host, instances_path, 'qemu')
    launched = {}
    try:
        for bus in EXPECTED:
            result = driver.build_and_launch(*_request(bus, shared), devices_image)
            assert result.ok, (bus, result)
            launched[bus] = result.uuid
        seen = {}
        for bus, uuid in launched.items():
            live = ET.fromstring(conn.domain_xml(domain_name(uuid)))
            seen[bus] = (live, _console(driver, uuid))
        yield seen
    finally:
        for uuid in launched.values():
            driver.delete(uuid)


def _request(bus, shared):
    spec = RequestSpec(name=f"disk-{bus}", vcpus=1, memory_mb=GUEST_MEMORY_MB,
                       numa_cells=(GuestCell(0, (0,), GUEST_MEMORY_MB),),
                       image_properties={'hw_disk_bus': bus})
    placed = Assignment(host='this-host', instance=str(uuid_lib.uuid4()), vcpus=1,
                        memory_mb=GUEST_MEMORY_MB, shared_cpus=frozenset(shared),
                        cells=(CellAssignment(0, 0, (0,), GUEST_MEMORY_MB, 4, {},
                                              frozenset(shared)),))
    return spec, placed


def _console(driver, uuid):
    """The console once the guest printed its disks (it powers off right after)."""
    deadline = time.monotonic() + CONSOLE_TIMEOUT_S
    while time.monotonic() < deadline:
        text = driver.console_log(uuid)
        if 'KVMFLEET done' in text or driver.state(uuid) != 'running':
            return driver.console_log(uuid)
        time.sleep(0.1)
    return driver.console_log(uuid)


@pytest.mark.parametrize('bus', sorted(EXPECTED))
def test_the_domain_has_the_overlay_disk_on_the_bus(guests, bus):
    live, _ = guests[bus]
    disk = live.find("devices/disk[@device='disk']")
    assert disk.find('target').get('bus') == bus
    assert disk.find('driver').get('type') == 'qcow2'
    assert disk.find('source').get('file').endswith('/disk.qcow2')
    controllers = {c.get('model') for c in live.findall("devices/controller[@type='scsi']")}
    assert ('virtio-scsi' in controllers) == (bus == 'scsi')


@pytest.mark.parametrize('bus', sorted(EXPECTED))
def test_the_guest_sees_the_disk_on_the_bus_and_reads_the_image(guests, bus, devices_image):
    _, console = guests[bus]
    disks = {name: (path, marker) for name, path, marker in DISK_LINE.findall(console)}
    name, bus_path = EXPECTED[bus]
    assert list(disks) == [name], console[-2000:]
    path, marker = disks[name]
    assert bus_path in path, path
    assert marker == devices_image['disk_marker']


def test_only_the_scsi_disk_hangs_off_a_scsi_host_on_virtio(guests):
    """virtio-blk and virtio-scsi both sit under a virtio device: the SCSI one has a host."""
    paths = {bus: DISK_LINE.search(console).group(2) for bus, (_, console) in guests.items()}
    assert '/host' in paths['scsi'] and '/host' not in paths['virtio']
    assert '/ata' not in paths['usb'] and '/usb' not in paths['sata']
