"""Stateless UEFI firmware and virtual IOMMUs on this machine's libvirtd + QEMU (TCG, q35).

Two guests through the agent's build path, side by side:

* stateless: ``hw_firmware_stateless`` with ``hw:viommu_model=intel``: the
  host's plain OVMF code as a stateless pflash loader (no nvram), an Intel
  vIOMMU with QEMU's I/O APIC.  The guest (tools/build-test-image.sh
  --devices) says it was booted by UEFI (/sys/firmware/efi) and that ACPI
  gives it the IOMMU's DMAR table.  OVMF faulted loading the cloud test
  kernel into 128 MiB, so this guest has 256.
* virtio: ``hw_viommu_model=virtio`` on SeaBIOS; Debian's kernels have no
  virtio-iommu driver, so the proof is that QEMU runs with the device and the
  guest boots (by BIOS, with no DMAR table).
"""

import uuid as uuid_lib
import xml.etree.ElementTree as ET

import pytest

from agent.discovery.host import discover
from agent.discovery.opts import HostSettings
from agent.domain import domain_name
from agent.driver import InstanceDriver
from agent.driver_features import host_features
from agent.driver_opts import DriverConfig
from tests.conftest import missing_service
from tests.functional.agent.test_disk_buses_real import (  # noqa: F401  (module fixtures)
    DEVICES_IMAGE_DIR,
    devices_image,
)
from tests.functional.agent.test_real_guest import (  # noqa: F401  (module fixtures)
    conn,
    console_values,
    instances_path,
    wait_for_console,
)
from wire.assignment import Assignment, CellAssignment
from wire.request_spec import GuestCell, RequestSpec

pytestmark = pytest.mark.libvirt

CONSOLE_TIMEOUT_S = 150        # a bound for a loaded machine (OVMF under TCG is slow)
GUESTS = {
    'stateless': (256, {'hw:viommu_model': 'intel'},
                  {'hw_firmware_type': 'uefi', 'hw_firmware_stateless': 'true'}),
    'virtio': (128, {}, {'hw_viommu_model': 'virtio'}),
}


@pytest.fixture(scope='module')
def found(conn):  # noqa: F811  (conn is the imported fixture)
    found = discover(conn, HostSettings(reserved_host_memory_mb=0, virt_type='qemu'),
                     host_name='this-host')
    if found.topology.cell(0).small_page_mb < 384 or not found.topology.cell(0).shared_cpus:
        missing_service('the firmware/IOMMU guests need 384 MiB and a shared pCPU on cell 0')
    return found


@pytest.fixture(scope='module')
def guests(conn, found, instances_path, devices_image):  # noqa: F811  (imported fixtures)
    """name -> (live domain XML, console text)."""
    config = DriverConfig(instances_path=instances_path, images_path=str(DEVICES_IMAGE_DIR),
                          virt_type='qemu', launch_timeout=20)
    driver = InstanceDriver(conn, found.topology, config,
                            host_features=host_features(found.domain_capabilities))
    shared = frozenset(found.topology.cell(0).shared_cpus)
    launched = {}
    try:
        for name, (memory_mb, extra_specs, image_properties) in GUESTS.items():
            spec = RequestSpec(name=name, vcpus=1, memory_mb=memory_mb,
                               numa_cells=(GuestCell(0, (0,), memory_mb),),
                               extra_specs=extra_specs, image_properties=image_properties)
            placed = Assignment(host='this-host', instance=str(uuid_lib.uuid4()), vcpus=1,
                                memory_mb=memory_mb, shared_cpus=shared,
                                cells=(CellAssignment(0, 0, (0,), memory_mb, 4, {}, shared),))
            result = driver.build_and_launch(spec, placed, devices_image)
            assert result.ok, (name, result)
            launched[name] = result.uuid
        yield {name: (ET.fromstring(conn.domain_xml(domain_name(uuid))),
                      wait_for_console(driver, uuid, 'KVMFLEET done', CONSOLE_TIMEOUT_S))
               for name, uuid in launched.items()}
    finally:
        for uuid in launched.values():
            driver.delete(uuid)


def test_this_host_reports_stateless_firmware(found):
    assert 'COMPUTE_SECURITY_STATELESS_FIRMWARE' in found.topology.traits
    assert host_features(found.domain_capabilities)['stateless_loader']


def test_stateless_uefi_boots_the_guest_with_no_variable_store(guests):
    live, console = guests['stateless']
    loader = live.find('os/loader')
    assert loader.get('stateless') == 'yes' and loader.get('type') == 'pflash'
    assert live.find('os/nvram') is None
    assert 'q35' in live.find('os/type').get('machine')
    assert console_values(console).get('firmware') == 'efi', console[-2000:]


def test_the_intel_viommu_runs_and_the_guest_finds_it(guests):
    live, console = guests['stateless']
    iommu = live.find('devices/iommu')
    assert iommu.get('model') == 'intel'
    assert iommu.find('driver').get('intremap') == 'on'
    assert live.find('features/ioapic').get('driver') == 'qemu'
    assert console_values(console).get('acpi_dmar') == 'yes', console[-2000:]


def test_the_virtio_viommu_runs_on_q35(guests):
    live, console = guests['virtio']
    assert live.find('devices/iommu').get('model') == 'virtio'
    assert 'q35' in live.find('os/type').get('machine')
    assert live.find('os/loader') is None           # SeaBIOS: no UEFI asked
    values = console_values(console)
    assert (values.get('firmware'), values.get('acpi_dmar')) == ('bios', 'no'), console[-2000:]
