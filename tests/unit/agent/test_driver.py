"""Build, launch, lifecycle and reconcile through the real seam on libvirt's test:///default.

The test driver defines and starts domains for real (in libvirtd-less memory);
failures it cannot produce (start refused, a guest that never runs) are
injected at the seam, after the real define.
"""

import os
import subprocess
import uuid as uuid_lib

import pytest

from agent import driver as drv
from agent import images
from agent.domain import domain_name, parse_metadata
from agent.driver_opts import DriverConfig
from agent.exceptions import LibvirtError
from agent.libvirt_conn import LibvirtConnection
from tests.unit.agent.domain.builders import assignment, cell, spec_for
from tests.unit.agent.domain.schema import validate_domain_xml
from wire.request_spec import CPU_DEDICATED, PortRequest
from wire.topology import Cell, HostTopology

HOST = HostTopology('host-a', cells=(
    Cell(0, frozenset(range(2, 8)), frozenset({0, 1}), memory_mb=8192, pages={2048: 64}),
    Cell(1, frozenset(range(10, 16)), frozenset({8, 9}), memory_mb=8192)))


class FaultyConnection(LibvirtConnection):
    """The real seam with one operation made to fail or lie on demand."""

    def __init__(self, uri):
        super().__init__(uri)
        self.fail_start = False
        self.fail_define = False
        self.fail_undefine = False
        self.defined = []
        self.state_after_start = None
        self.free = None

    def define_domain(self, xml):
        if self.fail_define:
            raise LibvirtError('defineXML', 'injected: XML refused')
        uuid = super().define_domain(validate_domain_xml(xml))
        self.defined.append(uuid)
        return uuid

    def undefine_domain(self, name):
        if self.fail_undefine:
            raise LibvirtError(f"undefine {name}", 'injected: busy')
        return super().undefine_domain(name)

    def start_domain(self, name):
        if self.fail_start:
            raise LibvirtError(f"start {name}", 'injected: QEMU exited at start')
        return super().start_domain(name)

    def domain_state(self, name):
        state = super().domain_state(name)
        if state == 'running' and self.state_after_start:
            return self.state_after_start
        return state

    def free_pages(self, cells, sizes_kb):
        if self.free is None:
            return super().free_pages(cells, sizes_kb)
        return {c: {s: self.free.get(c, {}).get(s, 0) for s in sizes_kb} for c in cells}


@pytest.fixture
def conn():
    connection = FaultyConnection('test:///default')
    yield connection
    connection.fail_undefine = False
    for uuid in connection.defined:                  # only what this test made
        if connection.domain_state(domain_name(uuid)) is not None:
            connection.destroy_domain(domain_name(uuid))
            connection.undefine_domain(domain_name(uuid))
    connection.close()


@pytest.fixture
def base_image(tmp_path):
    path = tmp_path / 'images' / 'base.qcow2'
    path.parent.mkdir()
    subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', str(path), '16M'], check=True)
    kernel = path.parent / 'vmlinuz'
    kernel.write_bytes(b'not really a kernel')
    return path


@pytest.fixture
def driver(conn, tmp_path):
    config = DriverConfig(instances_path=str(tmp_path / 'instances'),
                          images_path=str(tmp_path / 'images'), virt_type='qemu',
                          launch_timeout=0.5)
    return drv.InstanceDriver(conn, HOST, config, vhost_net=False)


def request(pins=None, page_kb=4, instance=None):
    pins = pins or {0: 4, 1: 5}
    placed = assignment([cell(0, 0, tuple(sorted(pins)), 256, page_kb, pins)],
                        instance=instance or str(uuid_lib.uuid4()))
    spec = spec_for(placed, cpu_policy=CPU_DEDICATED, dedicated_vcpus=frozenset(pins),
                    ports=(PortRequest(),), multiqueue=True)
    return spec, placed


def disk_image(base):
    return {'name': 'base', 'disk': str(base), 'disk_format': 'qcow2'}


def leftovers(driver, uuid):
    return (driver.state(uuid), os.path.exists(driver.instance_dir(uuid)))


def test_build_and_launch_runs_the_domain_with_an_overlay(driver, conn, base_image):
    spec, placed = request()
    result = driver.build_and_launch(spec, placed, disk_image(base_image))
    assert result.ok and result.state == 'running', result
    assert driver.state(result.uuid) == 'running'
    assert parse_metadata(conn.domain_xml(domain_name(result.uuid)))[2] == placed
    assert conn.vcpu_pin_info(domain_name(result.uuid))[1] == frozenset({5})
    files = sorted(os.listdir(driver.instance_dir(result.uuid)))
    assert files == ['disk.qcow2']                  # the building marker is gone
    overlay = images.image_info(os.path.join(driver.instance_dir(result.uuid), 'disk.qcow2'))
    assert overlay['format'] == 'qcow2' and overlay['backing-filename'] == str(base_image)


@pytest.mark.parametrize('fault, reason', [
    ('fail_define', drv.DEFINE_FAILED),
    ('fail_start', drv.START_FAILED),
    ('never_runs', drv.LAUNCH_TIMEOUT),
    ('dies_at_once', drv.START_FAILED),
])
def test_any_failure_after_files_exist_removes_everything(driver, conn, base_image, fault,
                                                         reason):
    if fault == 'never_runs':
        conn.state_after_start = 'paused'
    elif fault == 'dies_at_once':
        conn.state_after_start = 'shutoff'
    else:
        setattr(conn, fault, True)
    spec, placed = request()
    result = driver.build_and_launch(spec, placed, disk_image(base_image))
    conn.state_after_start = None
    assert result.reason == reason and not result.ok
    assert result.detail
    assert leftovers(driver, result.uuid) == (None, False)


@pytest.mark.parametrize('case, pins, page_kb, image_key, reason', [
    ('pcpu not dedicated', {0: 0, 1: 1}, 4, 'disk', drv.VERIFY_FAILED),
    ('not enough free pages', {0: 4, 1: 5}, 2048, 'disk', drv.VERIFY_FAILED),
    ('missing image file', {0: 4, 1: 5}, 4, 'missing', drv.IMAGE_INVALID),
])
def test_refusals_create_nothing(driver, conn, base_image, case, pins, page_kb, image_key,
                                 reason):
    conn.free = {0: {2048: 10}}       # 256 MiB needs 128 pages
    spec, placed = request(pins, page_kb)
    image = disk_image(base_image) if image_key == 'disk' else {'kernel': 'nowhere/vmlinuz'}
    result = driver.build_and_launch(spec, placed, image)
    assert result.reason == reason, result
    assert leftovers(driver, result.uuid) == (None, False)
    assert not os.path.exists(driver.config.instances_path) or \
        os.listdir(driver.config.instances_path) == []


def test_verify_sees_pins_of_domains_already_in_libvirt(driver, base_image):
    first = driver.build_and_launch(*request({0: 4, 1: 5}), disk_image(base_image))
    assert first.ok
    second = driver.build_and_launch(*request({0: 5, 1: 6}), disk_image(base_image))
    assert second.reason == drv.VERIFY_FAILED
    assert [v.reason for v in second.violations] == ['PCPU_ALREADY_PINNED']


def test_a_second_build_of_the_same_instance_leaves_the_first_alone(driver, base_image):
    spec, placed = request()
    first = driver.build_and_launch(spec, placed, disk_image(base_image))
    again = driver.build_and_launch(spec, placed, disk_image(base_image))
    assert again.reason == drv.ALREADY_EXISTS
    assert leftovers(driver, first.uuid) == ('running', True)


def test_relative_kernel_paths_resolve_under_images_path(driver, base_image):
    spec, placed = request()
    result = driver.build_and_launch(spec, placed, {'kernel': 'vmlinuz', 'cmdline': 'x'})
    assert result.ok, result
    xml = driver.conn.domain_xml(domain_name(result.uuid))
    assert f"<kernel>{base_image.parent / 'vmlinuz'}</kernel>" in xml


def test_lifecycle_stop_start_reboot_console_delete(driver, base_image):
    spec, placed = request()
    uuid = driver.build_and_launch(spec, placed, disk_image(base_image)).uuid
    driver.stop(uuid)
    assert driver.state(uuid) == 'shutoff'
    assert driver.start(uuid).state == 'running'
    assert driver.reboot(uuid, hard=True).ok
    assert driver.state(uuid) == 'running'
    with open(driver.console_path(uuid), 'w') as log:
        log.write('x' * 100 + 'KVMFLEET nproc=2\n')
    assert driver.console_log(uuid, max_bytes=17) == 'KVMFLEET nproc=2\n'
    driver.delete(uuid)
    assert leftovers(driver, uuid) == (None, False)
    driver.delete(uuid)                               # idempotent
    assert driver.console_log(uuid) == ''


def test_start_of_a_missing_instance_reports_the_failure(driver):
    result = driver.start(str(uuid_lib.uuid4()))
    assert result.reason == drv.START_FAILED and result.state is None


def test_reconcile_adopts_finished_and_cleans_half_built(driver, conn, base_image, tmp_path):
    running = driver.build_and_launch(*request({0: 2, 1: 3}), disk_image(base_image))
    stopped = driver.build_and_launch(*request({0: 4, 1: 5}), disk_image(base_image))
    driver.stop(stopped.uuid)
    half = driver.build_and_launch(*request({0: 6, 1: 7}), disk_image(base_image))
    driver.stop(half.uuid)                            # an interrupted build: marker, not running
    open(os.path.join(driver.instance_dir(half.uuid), drv.BUILDING_MARKER), 'w').close()
    orphan = str(uuid_lib.uuid4())
    os.makedirs(driver.instance_dir(orphan))
    stranger = os.path.join(driver.config.instances_path, 'not-an-instance')
    os.makedirs(stranger)

    result = driver.reconcile()

    mine = {running.uuid, stopped.uuid, half.uuid}   # test:///default is process-wide
    adopted = {a.uuid: a.state for a in result.adopted if a.uuid in mine}
    assert adopted == {running.uuid: 'running', stopped.uuid: 'shutoff'}
    assert sorted(result.cleaned) == sorted([half.uuid, orphan])
    assert leftovers(driver, half.uuid) == (None, False)
    assert not os.path.exists(driver.instance_dir(orphan))
    assert os.path.isdir(stranger)
    assert conn.domain_state('test') == 'running'     # the test driver's own domain: not ours
    assert {a.uuid: a.assignment.cells[0].pinning for a in result.adopted}[running.uuid] == \
        {0: 2, 1: 3}


def test_reconcile_finishes_a_build_interrupted_after_start(driver, base_image):
    result = driver.build_and_launch(*request(), disk_image(base_image))
    marker = os.path.join(driver.instance_dir(result.uuid), drv.BUILDING_MARKER)
    open(marker, 'w').close()
    assert [a.uuid for a in driver.reconcile().adopted] == [result.uuid]
    assert not os.path.exists(marker)


def test_lifecycle_accepts_a_non_uuid_instance_id(driver, base_image):
    spec, placed = request(instance='vm-7')
    result = driver.build_and_launch(spec, placed, disk_image(base_image))
    assert result.ok and result.uuid != 'vm-7'
    assert driver.state('vm-7') == 'running' == driver.state(result.uuid)
    driver.stop('vm-7')
    assert driver.state(result.uuid) == 'shutoff'
    driver.delete('vm-7')
    assert leftovers(driver, result.uuid) == (None, False)


def test_cleanup_that_libvirt_refuses_is_finished_by_reconcile(driver, conn, base_image):
    conn.fail_start = conn.fail_undefine = True
    result = driver.build_and_launch(*request(), disk_image(base_image))
    assert result.reason == drv.START_FAILED
    assert 'cleanup incomplete' in result.detail
    marker = os.path.join(driver.instance_dir(result.uuid), drv.BUILDING_MARKER)
    assert os.path.exists(marker)                     # kept so reconcile knows
    with pytest.raises(LibvirtError):
        driver.delete(result.uuid)                    # delete reports what it could not do
    conn.fail_start = conn.fail_undefine = False
    assert driver.reconcile().cleaned == (result.uuid,)
    assert leftovers(driver, result.uuid) == (None, False)


def test_schema_invalid_xml_is_refused_by_libvirt_and_leaves_nothing(driver, conn, base_image,
                                                                       monkeypatch):
    built = drv.domain_xml

    def with_unknown_element(*args, **kwargs):
        return built(*args, **kwargs).replace('</domain>', '<no-such-element/></domain>')
    monkeypatch.setattr(drv, 'domain_xml', with_unknown_element)
    monkeypatch.setattr(conn, 'define_domain', super(FaultyConnection, conn).define_domain)
    spec, placed = request()
    result = driver.build_and_launch(spec, placed, disk_image(base_image))
    assert result.reason == drv.DEFINE_FAILED
    assert 'failed to validate against schema' in result.detail and 'no-such-element' in \
        result.detail and '\n' not in result.detail       # one line for the scheduler
    assert leftovers(driver, result.uuid) == (None, False)


def test_a_build_while_libvirt_is_disconnected_fails_cleanly(driver, conn, base_image):
    conn.hostname()
    conn._closed(conn._conn, 0, None)       # what libvirt's close callback does
    spec, placed = request()
    result = driver.build_and_launch(spec, placed, disk_image(base_image))
    assert result.reason == drv.LIBVIRT_UNAVAILABLE and 'reconnecting' in result.detail
    assert not driver.busy(placed.instance)
    conn.reopen()
    assert leftovers(driver, result.uuid) == (None, False)
