"""The driver's migration methods between two simulated hosts of one process.

Each host is the real InstanceDriver over its own SimulatedConnection (a
private libvirt test-driver instance): domains really are defined, started,
moved and undefined; only the copy of the guest's memory is missing.
Failures the test driver cannot produce are injected at the seam.
"""

import json
import os
import uuid as uuid_lib
import xml.etree.ElementTree as ET

import pytest

from agent import results, simulated
from agent.discovery.host import discover
from agent.discovery.opts import HostSettings
from agent.discovery.pci_spec import parse_device_specs
from agent.domain import domain_name
from agent.domain import migration as facts
from agent.driver import InstanceDriver
from agent.driver_migration import MigrationError
from agent.driver_opts import DriverConfig
from agent.exceptions import LibvirtError
from agent.verify import PCPU_ALREADY_PINNED
from tests.unit.agent.domain.builders import assignment, cell, pci, spec_for
from tests.unit.agent.fakes import FixtureConnection
from wire.request_spec import CPU_DEDICATED, PortRequest
from wire.topology import Cell, HostTopology, PciDevice

PAGE_KB = 2048
POOL = 256          # 2 MiB pages per host cell
GUEST_PAGES = 128   # a 256 MiB guest
VF = '0000:81:10.1'


def topology(name):
    return HostTopology(name, cells=(
        Cell(0, frozenset(range(2, 8)), frozenset({0, 1}), memory_mb=8192, pages={PAGE_KB: POOL}),
        Cell(1, frozenset(range(10, 16)), frozenset({8, 9}), memory_mb=8192,
             pages={PAGE_KB: POOL})),
        pci_devices=(PciDevice(VF, '8086', '154c', 'type-VF', '0000:81:00.0', 1, 'physnet1',
                               iommu_group=40),))


class Host:
    """One simulated host: its connection, driver and name."""

    def __init__(self, root, name, host_topology=None):
        node = simulated.prepare_simulation(str(root))
        self.topology = host_topology or topology(name)
        self.conn = RecordingConnection(f"test://{node}", self.topology,
                                        str(root / name / 'domains'))
        self.driver = InstanceDriver(self.conn, self.topology, DriverConfig(
            instances_path=str(root / name / 'instances'),
            images_path=str(root / 'images'), launch_timeout=2,
            graceful_shutdown_timeout=0.0), vhost_net=False)

    def free(self, host_cell=0):
        return self.conn.free_pages([host_cell], [PAGE_KB])[host_cell][PAGE_KB]


class RecordingConnection(simulated.SimulatedConnection):
    """The simulated seam; device hot-plug (which the test driver lacks) is recorded."""

    def __init__(self, *args):
        super().__init__(*args)
        self.plugged = []
        self.devices = []         # the XML of each device plugged or unplugged
        self.fail_migrate = None

    def attach_device(self, name, device_xml):
        self.plugged.append(('attach', name, ET.fromstring(device_xml).get('type')))
        self.devices.append(device_xml)

    def detach_device(self, name, device_xml):
        self.plugged.append(('detach', name, ET.fromstring(device_xml).get('type')))
        self.devices.append(device_xml)

    def migrate(self, name, dest_uri, dest_xml, **kwargs):
        self.migrate_kwargs = kwargs
        if self.fail_migrate:
            raise LibvirtError(f"migrate {name}", self.fail_migrate)
        return super().migrate(name, dest_uri, dest_xml, **kwargs)


@pytest.fixture
def hosts(tmp_path):
    source, dest = Host(tmp_path, 'host-a'), Host(tmp_path, 'host-b')
    yield source, dest
    for host in (source, dest):
        host.conn.close()


IMAGE = {'name': 'simulated', 'kernel': 'simulated/vmlinuz', 'cmdline': 'console=ttyS0'}


def placed_on(host, pins, instance, host_cell=0, direct_port=False):
    cells = [cell(0, host_cell, tuple(sorted(pins)), 256, PAGE_KB, pins)]
    devices = (pci(VF, 'port:0', 1, 'physnet1'),) if direct_port else ()
    placed = assignment(cells, host=host, instance=instance, pci=devices)
    ports = (PortRequest(vnic_type='direct', physical_network='physnet1'),) if direct_port \
        else ()
    return spec_for(placed, cpu_policy=CPU_DEDICATED, dedicated_vcpus=frozenset(pins),
                    ports=ports), placed


def running_guest(host, pins=None, host_cell=0, **kwargs):
    instance = str(uuid_lib.uuid4())
    spec, placed = placed_on(host.topology.name, pins or {0: 2, 1: 3}, instance, host_cell,
                             **kwargs)
    assert host.driver.build_and_launch(spec, placed, IMAGE).ok
    return instance, spec


def prepared(dest, instance, spec, pins=None, **kwargs):
    _, claim = placed_on('host-b', pins or {0: 12, 1: 13}, instance, host_cell=1, **kwargs)
    result = dest.driver.prepare_incoming(spec, claim, IMAGE)
    assert result.ok and result.state == 'prepared', result
    return claim, dest.driver.incoming_xml(spec, claim, IMAGE)


def test_live_migration_moves_the_guest_with_the_destination_assignment(hosts):
    source, dest = hosts
    instance, spec = running_guest(source)
    claim, xml = prepared(dest, instance, spec)
    assert source.free() == POOL - GUEST_PAGES and dest.free(1) == POOL

    moved = source.driver.migrate_out(instance, dest.driver.migration_uri(), xml)

    assert moved.ok and moved.state == 'migrated', moved
    assert source.driver.state(instance) is None
    assert not os.path.exists(source.driver.instance_dir(instance))
    assert dest.driver.state(instance) == 'running'
    finished = dest.driver.finish_incoming(instance, claim)
    assert finished.ok and finished.state == 'running', finished
    assert source.free() == POOL and dest.free(1) == POOL - GUEST_PAGES
    pins = dest.conn.vcpu_pin_info(domain_name(instance))
    assert pins == {0: frozenset({12}), 1: frozenset({13})}
    assert os.listdir(dest.driver.instance_dir(instance)) == []     # markers gone


def test_the_destination_verifies_the_claim_like_a_build(hosts):
    source, dest = hosts
    running_guest(dest, {0: 12, 1: 13}, host_cell=1)      # pCPUs 12-13 taken on host-b
    dest_instance = str(uuid_lib.uuid4())
    spec, claim = placed_on('host-b', {0: 12, 1: 13}, dest_instance, host_cell=1)
    refused = dest.driver.prepare_incoming(spec, claim, IMAGE)
    assert refused.reason == results.VERIFY_FAILED
    assert [v.reason for v in refused.violations] == [PCPU_ALREADY_PINNED]
    assert not os.path.exists(dest.driver.instance_dir(dest_instance))


def test_a_prepared_migration_holds_its_pcpus_and_pages_until_aborted(hosts):
    source, dest = hosts
    instance, spec = running_guest(source)
    prepared(dest, instance, spec)
    rival, rival_claim = placed_on('host-b', {0: 12, 1: 13}, str(uuid_lib.uuid4()), 1)
    refused = dest.driver.build_and_launch(rival, rival_claim, IMAGE)
    assert refused.reason == results.VERIFY_FAILED, refused

    assert dest.driver.abort_incoming(instance) is False

    assert not os.path.exists(dest.driver.instance_dir(instance))
    assert dest.driver.build_and_launch(rival, rival_claim, IMAGE).ok
    assert source.driver.state(instance) == 'running'


@pytest.mark.parametrize('fault', ['refused XML', 'dead destination', 'libvirt error'])
def test_a_failed_migration_leaves_the_guest_running_on_the_source(hosts, fault):
    source, dest = hosts
    instance, spec = running_guest(source)
    claim, xml = prepared(dest, instance, spec)
    uri = dest.driver.migration_uri()
    if fault == 'refused XML':
        xml = xml.replace('<vcpu placement="static">2</vcpu>', '<vcpu>two</vcpu>')
    elif fault == 'dead destination':
        uri = 'simulated://gone/0'
    else:
        source.conn.fail_migrate = 'injected: connection reset by peer'

    failed = source.driver.migrate_out(instance, uri, xml)

    assert failed.reason == results.MIGRATION_FAILED and failed.state == 'running', failed
    assert source.driver.state(instance) == 'running'
    assert os.path.exists(source.driver.instance_dir(instance))
    assert dest.driver.state(instance) is None
    dest.driver.abort_incoming(instance)
    assert not os.path.exists(dest.driver.instance_dir(instance))
    assert source.free() == POOL - GUEST_PAGES and dest.free(1) == POOL


def test_a_migration_past_its_timeout_is_reported_as_such(hosts):
    source, dest = hosts
    instance, spec = running_guest(source)
    _, xml = prepared(dest, instance, spec)
    now = [0.0]
    source.driver._clock = lambda: now[0]

    def slow_then_aborted(name, dest_uri, dest_xml, **kwargs):
        now[0] += kwargs['timeout']
        raise LibvirtError(f"migrate {name}", 'operation aborted: canceled by client')
    source.conn.migrate = slow_then_aborted

    failed = source.driver.migrate_out(instance, dest.driver.migration_uri(), xml, timeout=7)

    assert failed.reason == results.MIGRATION_TIMEOUT and failed.state == 'running'


def test_live_migration_needs_a_running_guest(hosts):
    source, dest = hosts
    instance, spec = running_guest(source)
    _, xml = prepared(dest, instance, spec)
    source.driver.stop(instance)
    refused = source.driver.migrate_out(instance, dest.driver.migration_uri(), xml)
    assert refused.reason == results.INSTANCE_NOT_RUNNING and refused.state == 'shutoff'
    unknown = source.driver.migrate_out(str(uuid_lib.uuid4()), dest.driver.migration_uri(), xml)
    assert unknown.reason == results.INSTANCE_NOT_FOUND


def test_an_sev_guest_refuses_live_migration(hosts):
    source, dest = hosts
    instance, spec = running_guest(source)
    _, xml = prepared(dest, instance, spec)
    name = domain_name(instance)
    sev_xml = source.conn.domain_xml(name).replace(
        '</domain>', "<launchSecurity type='sev'><policy>0x0033</policy></launchSecurity>"
                     '</domain>')
    source.conn.domain_xml = lambda asked: sev_xml if asked == name else None
    refused = source.driver.migrate_out(instance, dest.driver.migration_uri(), xml)
    assert refused.reason == results.LIVE_MIGRATION_UNSUPPORTED
    assert 'SEV' in refused.detail and source.driver.state(instance) == 'running'


def test_direct_ports_are_unplugged_before_and_the_claimed_vf_plugged_after(hosts):
    source, dest = hosts
    instance, spec = running_guest(source, direct_port=True)
    claim, xml = prepared(dest, instance, spec, direct_port=True)
    assert ET.fromstring(xml).find("devices/interface[@type='hostdev']") is not None

    moved = source.driver.migrate_out(instance, dest.driver.migration_uri(), xml)

    assert moved.ok, moved
    assert source.conn.plugged == [('detach', domain_name(instance), 'hostdev')]
    # the destination started without the VF: the memory stream carries no device state
    assert ET.fromstring(dest.conn.domain_xml(domain_name(instance))).find(
        "devices/interface[@type='hostdev']") is None
    assert dest.driver.finish_incoming(instance, claim).ok
    assert dest.conn.plugged == [('attach', domain_name(instance), 'hostdev')]


def test_a_failed_migration_plugs_the_direct_ports_back(hosts):
    source, dest = hosts
    instance, spec = running_guest(source, direct_port=True)
    _, xml = prepared(dest, instance, spec, direct_port=True)
    source.conn.fail_migrate = 'injected'
    failed = source.driver.migrate_out(instance, dest.driver.migration_uri(), xml)
    assert failed.reason == results.MIGRATION_FAILED
    assert [op for op, _, _ in source.conn.plugged] == ['detach', 'attach']


def test_a_cold_moved_guest_brings_the_claimed_vf_in_its_definition(hosts):
    source, dest = hosts
    instance, spec = running_guest(source, direct_port=True)
    claim, xml = prepared(dest, instance, spec, direct_port=True)
    assert source.driver.migrate_out(instance, dest.driver.migration_uri(), xml,
                                     live=False).ok
    assert dest.driver.finish_incoming(instance, claim).ok
    assert source.conn.plugged == [] and dest.conn.plugged == []   # nothing to hot-plug
    assert len(facts.direct_ports(dest.conn.domain_xml(domain_name(instance)))) == 1


@pytest.mark.parametrize('power_on, state', [(True, 'running'), (False, 'shutoff')])
def test_cold_migration_stops_moves_and_starts_on_the_destination(hosts, power_on, state):
    source, dest = hosts
    instance, spec = running_guest(source)
    claim, xml = prepared(dest, instance, spec)

    moved = source.driver.migrate_out(instance, dest.driver.migration_uri(), xml, live=False)

    assert moved.ok, moved
    assert source.driver.state(instance) is None and dest.driver.state(instance) == 'shutoff'
    assert source.conn.migrate_kwargs == {'live': False, 'keep_source': False}
    finished = dest.driver.finish_incoming(instance, claim, power_on=power_on)
    assert finished.ok and finished.state == state, finished
    assert dest.driver.state(instance) == state


def test_a_resize_keeps_the_stopped_source_for_a_revert(hosts):
    source, dest = hosts
    instance, spec = running_guest(source)
    claim, xml = prepared(dest, instance, spec, pins={0: 12, 1: 13, 2: 14, 3: 15})
    moved = source.driver.migrate_out(instance, dest.driver.migration_uri(), xml, live=False,
                                      keep_source=True)
    assert moved.ok, moved
    assert source.driver.state(instance) == 'shutoff'
    assert os.path.isdir(source.driver.instance_dir(instance))
    assert source.conn.migrate_kwargs == {'live': False, 'keep_source': True}
    assert dest.driver.finish_incoming(instance, claim).state == 'running'
    pins = dest.conn.vcpu_pin_info(domain_name(instance))
    assert pins == {v: frozenset({12 + v}) for v in range(4)}
    # revert: the destination's copy deleted, the source's started with its old pins
    dest.driver.delete(instance)
    assert dest.driver.state(instance) is None
    _, old_claim = placed_on('host-a', {0: 2, 1: 3}, instance)
    started = source.driver.finish_incoming(instance, old_claim)
    assert started.ok and started.state == 'running', started
    assert source.conn.vcpu_pin_info(domain_name(instance)) == {0: frozenset({2}),
                                                                1: frozenset({3})}


def test_a_resize_in_place_redefines_the_guest_and_a_revert_restores_it(hosts):
    source, _ = hosts
    instance, spec = running_guest(source)
    name = domain_name(instance)
    _, old_claim = placed_on('host-a', {0: 2, 1: 3}, instance)
    new_spec, new_claim = placed_on('host-a', {0: 4, 1: 5, 2: 6, 3: 7}, instance)
    assert source.driver.resize_in_place(new_spec, old_claim, IMAGE).reason == \
        results.VERIFY_FAILED           # the new claim overlaps the guest's own pCPUs
    assert source.driver.state(instance) == 'running'
    resized = source.driver.resize_in_place(new_spec, new_claim, IMAGE)
    assert resized.ok and resized.state == 'resized', resized
    assert source.driver.state(instance) == 'shutoff'
    assert facts.defined_pins(source.conn.domain_xml(name))[0] == {
        v: frozenset({4 + v}) for v in range(4)}
    assert source.driver.finish_incoming(instance, new_claim).state == 'running'
    assert source.driver.revert_in_place(instance) is True
    started = source.driver.finish_incoming(instance, old_claim)
    assert started.ok and started.state == 'running', started
    assert source.conn.vcpu_pin_info(name) == {0: frozenset({2}), 1: frozenset({3})}
    assert source.driver.revert_in_place(instance) is False      # nothing kept any more


def test_a_confirmed_resize_removes_the_source_copy_only(hosts):
    source, dest = hosts
    instance, spec = running_guest(source)
    claim, xml = prepared(dest, instance, spec)
    assert source.driver.migrate_out(instance, dest.driver.migration_uri(), xml, live=False,
                                     keep_source=True).ok
    assert dest.driver.finish_incoming(instance, claim).ok
    source.driver.delete(instance)
    assert source.driver.state(instance) is None
    assert not os.path.exists(source.driver.instance_dir(instance))
    assert dest.driver.state(instance) == 'running'


def test_a_failed_cold_migration_starts_the_guest_again_on_the_source(hosts):
    source, dest = hosts
    instance, spec = running_guest(source)
    _, xml = prepared(dest, instance, spec)
    source.conn.fail_migrate = 'injected: destination refused the definition'
    failed = source.driver.migrate_out(instance, dest.driver.migration_uri(), xml, live=False)
    assert failed.reason == results.MIGRATION_FAILED and failed.state == 'running'


def test_finish_incoming_reports_a_domain_that_differs_from_the_claim(hosts):
    source, dest = hosts
    instance, spec = running_guest(source)
    claim, xml = prepared(dest, instance, spec)
    assert source.driver.migrate_out(instance, dest.driver.migration_uri(), xml).ok
    _, other_claim = placed_on('host-b', {0: 14, 1: 15}, instance, host_cell=1)
    finished = dest.driver.finish_incoming(instance, other_claim)
    assert finished.reason == results.VERIFY_FAILED
    assert 'vcpupin: vCPU 0 may run on 12, claimed 14' in finished.detail
    assert dest.driver.state(instance) == 'running'     # the guest is never removed for it
    assert dest.driver.finish_incoming(instance, claim).ok


@pytest.mark.parametrize('finished', [True, False])
def test_abort_never_removes_a_guest_libvirt_moved_here(hosts, finished):
    """Moved but never finished (the source's agent died before it said so): the guest
    runs only here now; abort keeps it and its disk for the scheduler to decide."""
    source, dest = hosts
    instance, spec = running_guest(source)
    claim, xml = prepared(dest, instance, spec)
    assert source.driver.migrate_out(instance, dest.driver.migration_uri(), xml).ok
    if finished:
        assert dest.driver.finish_incoming(instance, claim).ok
    assert dest.driver.abort_incoming(instance) is (not finished)
    assert dest.driver.state(instance) == 'running'
    assert os.path.isdir(dest.driver.instance_dir(instance))


def test_incoming_xml_is_the_build_xml_of_the_destination(hosts):
    source, dest = hosts
    instance, spec = running_guest(source)
    _, claim = placed_on('host-b', {0: 12, 1: 13}, instance, host_cell=1)
    domain = ET.fromstring(dest.driver.incoming_xml(spec, claim, IMAGE))
    assert [p.get('cpuset') for p in domain.findall('cputune/vcpupin')] == ['12', '13']
    assert domain.find('numatune/memnode').get('nodeset') == '1'
    assert dest.driver.instance_dir(instance) in domain.find('devices/serial/source').get('path')
    with pytest.raises(MigrationError, match='IMAGE_INVALID'):
        dest.driver.incoming_xml(spec, claim, dict(IMAGE, kernel='missing/vmlinuz'))


def test_migration_uri_is_the_option_or_the_connection_s_own(hosts, tmp_path):
    source, dest = hosts
    assert dest.driver.migration_uri() == dest.conn.address
    assert dest.driver.migration_data_uri() is None
    configured = InstanceDriver(dest.conn, dest.topology, DriverConfig(
        migration_uri='qemu+tls://host-b/system', migration_data_uri='tcp://192.0.2.7'))
    assert configured.migration_uri() == 'qemu+tls://host-b/system'
    assert configured.migration_data_uri() == 'tcp://192.0.2.7'


def captured_host(shared_fixtures, name, pf, vf, pf_address):
    """A host discovered from real captures: 2 cells, one SR-IOV PF and its VF on physnet1."""
    conn = FixtureConnection.from_files(
        shared_fixtures / 'capabilities' / 'vdsm_caps_libvirt_multiqemu.xml',
        domcaps=shared_fixtures / 'domcaps' / 'virtmanager_kvm-x86_64-domcaps-latest.xml',
        nodedevs=[shared_fixtures / 'nodedev' / pf, shared_fixtures / 'nodedev' / vf],
        node_memory_kb=48 * 1024 * 1024)
    specs = parse_device_specs([json.dumps({'address': pf_address,
                                            'physical_network': 'physnet1'})])
    return discover(conn, HostSettings(dedicated_set=frozenset(range(24)), device_specs=specs),
                    host_name=name).topology


def test_the_vf_of_each_real_host_capture_follows_the_guest(shared_fixtures, tmp_path):
    """The source's VF (a real Intel capture) is unplugged, the destination's claimed VF (a
    real Mellanox capture) plugged in after the move, by the PCI address of each host."""
    source = Host(tmp_path, 'host-a', captured_host(
        shared_fixtures, 'host-a', 'vdsm_pci_0000_05_00_1_sriov_pf.xml',
        'vdsm_pci_0000_05_10_7_sriov_vf.xml', '0000:05:00.1'))
    dest = Host(tmp_path, 'host-b', captured_host(
        shared_fixtures, 'host-b', 'nova_pci_0000_82_00_0_mlx_pf_vpd.xml',
        'nova_pci_0000_82_00_3_mlx_vf.xml', '0000:82:00.0'))
    instance = str(uuid_lib.uuid4())
    port = (PortRequest(vnic_type='direct', physical_network='physnet1'),)

    def claim(host, pcpus, vf):
        placed = assignment([cell(0, 1, (0, 1), 256, 4, dict(enumerate(pcpus)))], host=host,
                            instance=instance, pci=(pci(vf, 'port:0', 1, 'physnet1'),))
        return spec_for(placed, cpu_policy=CPU_DEDICATED, dedicated_vcpus=frozenset({0, 1}),
                        ports=port), placed
    spec, on_source = claim('host-a', (6, 7), '0000:05:10.7')
    assert source.driver.build_and_launch(spec, on_source, IMAGE).ok
    _, on_dest = claim('host-b', (8, 9), '0000:82:00.3')
    assert dest.driver.prepare_incoming(spec, on_dest, IMAGE).ok
    xml = dest.driver.incoming_xml(spec, on_dest, IMAGE)

    assert source.driver.migrate_out(instance, dest.driver.migration_uri(), xml).ok
    assert dest.driver.finish_incoming(instance, on_dest).ok

    assert [facts.vf_address(x) for x in source.conn.devices] == [(0, 0x05, 0x10, 7)]
    assert [facts.vf_address(x) for x in dest.conn.devices] == [(0, 0x82, 0x00, 3)]
    assert [op for op, _, _ in source.conn.plugged + dest.conn.plugged] == ['detach', 'attach']
    for host in (source, dest):
        host.conn.close()
