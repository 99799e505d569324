"""A real guest on an Open vSwitch bridge, tagged with its port's VLAN, answers a ping.

Open vSwitch runs with the userspace datapath (``datapath_type=netdev``: no
kernel module, which these machines cannot load); tools/setup-host.sh installs
and starts it.  The suite makes a bridge of its own, and a veth pair whose far
end sits in a network namespace of its own, on an access port of VLAN 42.  The
agent maps physical network ``ovsnet`` to the bridge ([network]
ovs_bridge_mappings); the guest's port asks for ``ovsnet`` and VLAN 42 and gets
``<interface type='bridge'>`` with ``<virtualport type='openvswitch'>`` and
the tag, which libvirt sets through ovs-vsctl.  Nothing leaves the host: the
addresses are link-local, inside the bridge.
"""

import shutil
import time
import uuid as uuid_lib
import xml.etree.ElementTree as ET

import pytest

from agent.discovery.host import discover
from agent.discovery.opts import HostSettings
from agent.domain import domain_name
from agent.driver import InstanceDriver
from agent.driver_opts import DriverConfig
from agent.network import Bridge, HostNetworks
from tests.conftest import missing_service
from tests.functional.agent.test_guest_network_real import ip, run
from tests.functional.agent.test_real_guest import (  # noqa: F401  (module fixtures)
    IMAGE_DIR,
    conn,
    console_values,
    image,
    instances_path,
    launch_failure,
    wait_for_console,
)
from wire.assignment import Assignment, CellAssignment
from wire.request_spec import GuestCell, PortRequest, RequestSpec

pytestmark = pytest.mark.libvirt

SUFFIX = uuid_lib.uuid4().hex[:6]
BRIDGE, HOST_END, NS_END = f"kfo-br{SUFFIX}", f"kfo-a{SUFFIX}", f"kfo-b{SUFFIX}"
NAMESPACE = f"kvmfleet-ovs-{SUFFIX}"
VLAN = 42
NS_ADDRESS, GUEST_ADDRESS = '169.254.78.1/24', '169.254.78.2/24'


def vsctl(*args, check=True):
    return run('ovs-vsctl', '--timeout=10', *args, check=check)


def remove_lan():
    vsctl('--if-exists', 'del-br', BRIDGE, check=False)
    ip('netns', 'delete', NAMESPACE, check=False)
    ip('link', 'delete', HOST_END, check=False)


@pytest.fixture(scope='module')
def lan():
    """A userspace OVS bridge and a namespace on its VLAN access port; removed afterwards."""
    if shutil.which('ovs-vsctl') is None or vsctl('show', check=False).returncode != 0:
        missing_service('Open vSwitch is not running (tools/setup-host.sh starts it)')
    try:
        vsctl('add-br', BRIDGE, '--', 'set', 'bridge', BRIDGE, 'datapath_type=netdev')
        ip('link', 'set', BRIDGE, 'up')
        ip('netns', 'add', NAMESPACE)
        ip('link', 'add', HOST_END, 'type', 'veth', 'peer', 'name', NS_END)
        ip('link', 'set', HOST_END, 'up')
        vsctl('add-port', BRIDGE, HOST_END, f"tag={VLAN}")
        ip('link', 'set', NS_END, 'netns', NAMESPACE)
        ip('addr', 'add', NS_ADDRESS, 'dev', NS_END, namespace=NAMESPACE)
        ip('link', 'set', NS_END, 'up', namespace=NAMESPACE)
    except Exception as exc:        # noqa: BLE001  (any failure: clean up, then say why)
        remove_lan()
        missing_service(f"cannot make the OVS test network: {getattr(exc, 'stderr', exc)}")
    yield
    remove_lan()


@pytest.fixture(scope='module')
def guest(conn, lan, instances_path, image):  # noqa: F811  (fixtures imported above)
    host = discover(conn, HostSettings(reserved_host_memory_mb=0, virt_type='qemu'),
                    host_name='this-host').topology
    shared = frozenset(host.cell(0).shared_cpus)
    config = DriverConfig(instances_path=instances_path, images_path=str(IMAGE_DIR),
                          virt_type='qemu', launch_timeout=20,
                          networks=HostNetworks({'ovsnet': Bridge(BRIDGE, 'ovs')}))
    driver = InstanceDriver(conn, host, config)
    booted = dict(image, cmdline=f"{image['cmdline']} kvmfleet_ip={GUEST_ADDRESS}")
    spec = RequestSpec(name='ovs-guest', vcpus=1, memory_mb=128,
                       numa_cells=(GuestCell(0, (0,), 128),),
                       ports=(PortRequest(physical_network='ovsnet', vlan=VLAN),))
    placed = Assignment(host='this-host', instance=str(uuid_lib.uuid4()), vcpus=1,
                        memory_mb=128, shared_cpus=shared,
                        cells=(CellAssignment(0, 0, (0,), 128, 4, {}, shared),))
    result = driver.build_and_launch(spec, placed, booted)
    assert result.ok, launch_failure(result)
    try:
        live = ET.fromstring(conn.domain_xml(domain_name(result.uuid)))
        console = wait_for_console(driver, result.uuid, 'KVMFLEET done', 120)
        yield {'live': live, 'console': console}
    finally:
        driver.delete(result.uuid)


def test_the_port_is_an_ovs_port_tagged_with_its_vlan(guest):
    interface = guest['live'].find('devices/interface')
    assert interface.get('type') == 'bridge'
    assert interface.find('virtualport').get('type') == 'openvswitch'
    assert interface.find('vlan/tag').get('id') == str(VLAN)
    tap = interface.find('target').get('dev')
    assert vsctl('port-to-br', tap).stdout.strip() == BRIDGE
    assert vsctl('get', 'port', tap, 'tag').stdout.strip() == str(VLAN)


def test_the_guest_answers_a_ping_from_the_namespace_on_its_vlan(guest):
    assert console_values(guest['console']).get('eth0_ip') == GUEST_ADDRESS, \
        guest['console'][-2000:]
    deadline, answered = time.monotonic() + 30, None
    while time.monotonic() < deadline:
        answered = run('ping', '-c', '1', '-W', '1', GUEST_ADDRESS.split('/')[0],
                       namespace=NAMESPACE, check=False)
        if answered.returncode == 0:
            break
    assert answered.returncode == 0, answered.stdout + answered.stderr
