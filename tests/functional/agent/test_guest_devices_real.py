"""Guest hardware and quota keys on this machine's libvirtd + QEMU: defined, started, live.

One TCG guest through the agent's build path with the devices and features of
wire.guest_hardware (watchdog, extra serial port, RNG with a rate limit, video,
USB tablet, boot menu, PMU, packed virtqueues on the virtio NIC, a vTPM 2.0
emulated by swtpm) and the
cputune of wire.guest_quota.
"""

import time
import uuid as uuid_lib
import xml.etree.ElementTree as ET

import pytest

from agent.discovery.host import discover
from agent.discovery.opts import HostSettings
from agent.domain import domain_name
from tests.conftest import missing_service
from tests.functional.agent.test_real_guest import (  # noqa: F401  (module fixtures)
    conn,
    image,
    instances_path,
    launch_failure,
    make_driver,
)
from wire.assignment import Assignment, CellAssignment
from wire.request_spec import GuestCell, PortRequest, RequestSpec

pytestmark = pytest.mark.libvirt

EXTRA_SPECS = {'hw:watchdog_action': 'pause',
               'hw:serial_port_count': '2', 'hw:boot_menu': 'true', 'hw:pmu': 'false',
               'hw:virtio_packed_ring': 'true', 'hw_rng:allowed': 'true',
               'hw_rng:rate_bytes': '4096', 'hw_rng:rate_period': '1000',
               'quota:cpu_shares': '512', 'quota:cpu_period': '100000',
               'quota:cpu_quota': '50000', 'hw:tpm_version': '2.0', 'hw:tpm_model': 'tpm-crb'}
IMAGE_PROPERTIES = {'hw_rng_model': 'virtio', 'hw_video_model': 'vga',
                    'hw_pointer_model': 'usbtablet'}


@pytest.fixture(scope='module')
def host(conn):  # noqa: F811  (conn is the imported fixture)
    """This machine with pCPU 1 shared: the guest floats, so it shares no pCPU with others."""
    topology = discover(conn, HostSettings(dedicated_set=frozenset({0}),
                                           shared_set=frozenset({1}),
                                           reserved_host_memory_mb=0, virt_type='qemu'),
                        host_name='this-host').topology
    if topology.cell(0).small_page_mb < 256:
        missing_service('less than 256 MiB of small-page memory on cell 0')
    return topology


@pytest.fixture(scope='module')
def running(conn, host, instances_path, image):  # noqa: F811  (fixtures imported above)
    driver = make_driver(conn, host, instances_path, 'qemu')
    instance = str(uuid_lib.uuid4())
    spec = RequestSpec(name='devices', vcpus=1, memory_mb=256,
                       numa_cells=(GuestCell(0, (0,), 256),), ports=(PortRequest(),),
                       extra_specs=EXTRA_SPECS, image_properties=IMAGE_PROPERTIES)
    placed = Assignment(host='this-host', instance=instance, vcpus=1, memory_mb=256,
                        cells=(CellAssignment(0, 0, (0,), 256, 4, {}, frozenset({1})),),
                        shared_cpus=frozenset({1}))
    result = driver.build_and_launch(spec, placed, image)
    assert result.ok, launch_failure(result)
    try:
        yield driver, result.uuid, ET.fromstring(conn.domain_xml(domain_name(result.uuid)))
    finally:
        driver.delete(result.uuid)


def test_the_guest_runs(running):
    driver, uuid, _ = running
    assert driver.state(uuid) == 'running'


def test_live_xml_has_every_device_asked(running):
    _, _, live = running
    assert live.find('devices/watchdog').get('action') == 'pause'
    assert [s.find('target').get('port') for s in live.findall('devices/serial')] == ['0', '1']
    rng = live.find('devices/rng')
    assert rng.get('model') == 'virtio'
    assert rng.find('rate').get('bytes') == '4096'
    assert live.find('devices/video/model').get('type') == 'vga'
    assert live.find("devices/input[@type='tablet']").get('bus') == 'usb'
    assert live.find('devices/interface/driver').get('packed') == 'on'
    assert live.find('devices/tpm').get('model') == 'tpm-crb'
    assert live.find('devices/tpm/backend').attrib['type'] == 'emulator'


def test_this_host_reports_the_vtpm_it_can_emulate(host):
    assert {'COMPUTE_SECURITY_TPM_2_0', 'COMPUTE_SECURITY_TPM_CRB'} <= host.traits


def test_live_xml_has_the_quota_tunables(running):
    _, _, live = running
    assert live.findtext('cputune/shares') == '512'
    assert live.findtext('cputune/quota') == '50000'


def test_live_xml_has_the_boot_menu_and_features(running):
    _, _, live = running
    assert live.find('os/bootmenu').get('enable') == 'yes'
    assert live.find('features/pmu').get('state') == 'off'


def test_a_graceful_stop_waits_its_timeout_then_powers_off(running):
    """The test guest's busybox init ignores the ACPI power button: the stop asks, waits the
    whole graceful timeout, then pulls the plug; a forced stop does not wait."""
    driver, uuid, _ = running
    assert driver.state(uuid) == 'running'
    started = time.monotonic()
    driver.stop(uuid, graceful_timeout=2.0)
    waited = time.monotonic() - started
    assert driver.state(uuid) == 'shutoff' and 2.0 <= waited < 10.0
    assert driver.start(uuid).ok
    started = time.monotonic()
    driver.stop(uuid)                       # force: no wait
    assert driver.state(uuid) == 'shutoff' and time.monotonic() - started < 2.0
