"""Guest hardware keys in the domain XML (schema-checked), as Nova's libvirt driver builds them."""

import pytest

from agent.domain import DomainBuildError
from agent.network import Bridge, HostNetworks
from tests.unit.agent.domain.builders import (
    DISK_IMAGE,
    KERNEL_IMAGE,
    assignment,
    cell,
    pci,
    settings,
    spec_for,
)
from wire.request_spec import PortRequest

PLACED = assignment([cell(0, 0, (0, 1), 1024, shared=(4, 5))], shared=(4, 5))


def built(build, extra=None, image_props=None, image=KERNEL_IMAGE, ports=()):
    spec = spec_for(PLACED, extra_specs=extra or {}, image_properties=image_props or {},
                    ports=tuple(ports))
    return build(spec, PLACED, image, settings(disk_path='/var/lib/kvmfleet/overlay.qcow2'))


def test_nothing_asked_adds_nothing(build):
    domain = built(build)
    assert domain.find('devices/watchdog') is None and domain.find('devices/rng') is None
    assert domain.find('devices/video') is None and domain.find('os/bootmenu') is None
    assert [s.find('target').get('port') for s in domain.findall('devices/serial')] == ['0']
    assert domain.find('features/pmu') is None and domain.find('features/kvm') is None


def test_watchdog_serial_ports_boot_menu_and_features(build):
    domain = built(build, {'hw:watchdog_action': 'reset', 'hw:serial_port_count': '3',
                           'hw:boot_menu': 'true', 'hw:pmu': 'false',
                           'hw:hide_hypervisor_id': 'true'})
    assert domain.find('devices/watchdog').attrib == {'model': 'i6300esb', 'action': 'reset'}
    serials = domain.findall('devices/serial')
    assert [(s.get('type'), s.find('target').get('port')) for s in serials] == [
        ('file', '0'), ('pty', '1'), ('pty', '2')]
    assert domain.find('os/bootmenu').attrib == {'enable': 'yes'}
    assert domain.find('features/pmu').attrib == {'state': 'off'}
    assert domain.find('features/kvm/hidden').attrib == {'state': 'on'}


def test_rng_with_its_rate_video_and_tablet(build):
    domain = built(build, {'hw_rng:allowed': 'true', 'hw_rng:rate_bytes': '2048',
                           'hw_rng:rate_period': '500'},
                   {'hw_rng_model': 'virtio', 'hw_video_model': 'virtio',
                    'hw_pointer_model': 'usbtablet'})
    rng = domain.find('devices/rng')
    assert rng.get('model') == 'virtio' and rng.findtext('backend') == '/dev/urandom'
    assert rng.find('rate').attrib == {'bytes': '2048', 'period': '500'}
    assert domain.find('devices/video/model').get('type') == 'virtio'
    assert domain.find('devices/input').attrib == {'type': 'tablet', 'bus': 'usb'}


@pytest.mark.parametrize('bus, dev, controller', [
    ('virtio', 'vda', None), ('scsi', 'sda', 'virtio-scsi'), ('sata', 'sda', None)])
def test_disk_bus(build, bus, dev, controller):
    domain = built(build, image_props={'hw_disk_bus': bus}, image=DISK_IMAGE)
    assert domain.find('devices/disk/target').attrib == {'dev': dev, 'bus': bus}
    found = domain.find("devices/controller[@type='scsi']")
    assert (None if found is None else found.get('model')) == controller


def test_vif_model_and_packed_rings(build):
    domain = built(build, {'hw:virtio_packed_ring': 'true'}, image=DISK_IMAGE,
                   ports=[PortRequest()])
    assert domain.find('devices/interface/driver').get('packed') == 'on'
    assert domain.find('devices/disk/driver').get('packed') == 'on'
    e1000 = built(build, image_props={'hw_vif_model': 'e1000'}, ports=[PortRequest()])
    interface = e1000.find('devices/interface')
    assert interface.find('model').get('type') == 'e1000' and interface.find('driver') is None


def test_an_invalid_key_is_a_build_error_naming_it(build):
    with pytest.raises(DomainBuildError, match='extra_specs.hw:watchdog_action'):
        built(build, {'hw:watchdog_action': 'explode'})


def test_quota_tunables_in_cputune_and_iotune(build):
    domain = built(build, {'quota:cpu_shares': '512', 'quota:cpu_period': '100000',
                           'quota:cpu_quota': '50000', 'quota:disk_read_iops_sec': '300',
                           'quota:disk_write_bytes_sec': '1048576'},
                   image=DISK_IMAGE)
    tunables = [(e.tag, e.text) for e in domain.find('cputune')
                if e.tag in ('shares', 'period', 'quota')]
    assert tunables == [('shares', '512'), ('period', '100000'), ('quota', '50000')]
    iotune = domain.find('devices/disk/iotune')
    assert {e.tag: e.text for e in iotune} == {'read_iops_sec': '300',
                                               'write_bytes_sec': '1048576'}


def test_vtpm_emulated_by_swtpm(build):
    domain = built(build, {'hw:tpm_version': '2.0', 'hw:tpm_model': 'tpm-crb'})
    tpm = domain.find('devices/tpm')
    assert tpm.get('model') == 'tpm-crb'
    assert tpm.find('backend').attrib == {'type': 'emulator', 'version': '2.0'}


INTEL = {'intremap': 'on', 'caching_mode': 'on', 'iotlb': 'on', 'aw_bits': '48'}


@pytest.mark.parametrize('model, virt_type, driver', [
    ('intel', 'kvm', dict(INTEL, eim='on')),
    ('intel', 'qemu', INTEL),              # QEMU refuses eim=on under TCG
    ('virtio', 'kvm', None)])
def test_viommu_on_q35_with_qemus_ioapic(build, model, virt_type, driver):
    spec = spec_for(PLACED, extra_specs={'hw:viommu_model': model})
    domain = build(spec, PLACED, KERNEL_IMAGE, settings(virt_type=virt_type))
    iommu = domain.find('devices/iommu')
    assert iommu.get('model') == model
    assert (None if iommu.find('driver') is None else iommu.find('driver').attrib) == driver
    assert domain.find('features/ioapic').attrib == {'driver': 'qemu'}
    assert domain.find('os/type').get('machine') == 'q35'


def test_no_viommu_no_ioapic_and_the_default_machine(build):
    domain = built(build)
    assert domain.find('devices/iommu') is None and domain.find('features/ioapic') is None
    assert domain.find('os/type').get('machine') is None


def test_stateless_firmware_is_the_plain_uefi_code_with_no_nvram(build):
    spec = spec_for(PLACED, image_properties={'hw_firmware_type': 'uefi',
                                              'hw_firmware_stateless': 'true'})
    domain = build(spec, PLACED, KERNEL_IMAGE,
                   settings(stateless_loader='/usr/share/OVMF/OVMF_CODE_4M.fd'))
    os_element = domain.find('os')
    assert domain.find('os/type').get('machine') == 'q35'
    loader = os_element.find('loader')
    assert loader.attrib == {'readonly': 'yes', 'type': 'pflash', 'stateless': 'yes'}
    assert loader.text == '/usr/share/OVMF/OVMF_CODE_4M.fd'
    assert os_element.find('nvram') is None and os_element.get('firmware') is None


def test_stateless_firmware_without_a_plain_loader_is_a_build_error(build):
    spec = spec_for(PLACED, image_properties={'hw_firmware_type': 'uefi',
                                              'hw_firmware_stateless': 'true'})
    with pytest.raises(DomainBuildError, match='settings.stateless_loader'):
        build(spec, PLACED, KERNEL_IMAGE, settings())


def test_nic_bandwidth_on_every_tap_nic_not_on_vfs(build):
    placed = assignment([cell(0, 0, (0, 1), 1024, shared=(4, 5))], shared=(4, 5),
                        pci=[pci('0000:82:00.3', 'port:1')])
    spec = spec_for(placed, extra_specs={'quota:vif_inbound_average': '1024',
                                         'quota:vif_inbound_burst': '64',
                                         'quota:vif_outbound_average': '512',
                                         'quota:vif_outbound_peak': '1024'},
                    ports=(PortRequest(), PortRequest(vnic_type='direct')))
    tap, vf = build(spec, placed, KERNEL_IMAGE, settings()).findall('devices/interface')
    assert tap.find('bandwidth/inbound').attrib == {'average': '1024', 'burst': '64'}
    assert tap.find('bandwidth/outbound').attrib == {'average': '512', 'peak': '1024'}
    assert vf.get('type') == 'hostdev' and vf.find('bandwidth') is None


NETWORKS = HostNetworks({'ext': Bridge('br-ex', 'linux'), 'tenant': Bridge('br-int', 'ovs')},
                        default_physical_network='ext')


def plugged(build, ports, networks=NETWORKS):
    spec = spec_for(PLACED, ports=tuple(ports))
    return build(spec, PLACED, KERNEL_IMAGE, settings(networks=networks)).findall(
        'devices/interface')


def test_normal_ports_are_plugged_into_the_bridge_of_their_network(build):
    linux, ovs, default = plugged(build, [PortRequest(physical_network='ext'),
                                          PortRequest(physical_network='tenant', vlan=42),
                                          PortRequest()])
    assert linux.get('type') == 'bridge' and linux.find('source').get('bridge') == 'br-ex'
    assert linux.find('virtualport') is None and linux.find('vlan') is None
    assert ovs.find('source').get('bridge') == 'br-int'
    assert ovs.find('virtualport').get('type') == 'openvswitch'
    assert ovs.find('vlan/tag').get('id') == '42'
    assert default.find('source').get('bridge') == 'br-ex'       # default_physical_network


def test_without_a_network_a_normal_port_is_a_bare_tap(build):
    [tap] = plugged(build, [PortRequest()], networks=HostNetworks())
    assert tap.get('type') == 'ethernet' and tap.find('source') is None


@pytest.mark.parametrize('port, words', [
    (PortRequest(physical_network='other'), "physical network 'other' is not bridged"),
    (PortRequest(physical_network='ext', vlan=5), 'needs an Open vSwitch bridge'),
])
def test_a_port_this_host_cannot_plug_is_a_build_error(build, port, words):
    with pytest.raises(DomainBuildError, match=words):
        plugged(build, [port])
