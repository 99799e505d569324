"""A real guest plugged into a Linux bridge answers a ping from a network namespace.

The suite makes its own network: a bridge on this host, and a veth pair whose
far end sits in a network namespace of its own with a link-local address.  The
agent maps physical network ``testnet`` to that bridge ([network]
linux_bridge_mappings); the guest's normal port asks for ``testnet`` and gets
``<interface type='bridge'>``.  The guest's /init puts eth0 on the network
(kernel command line ``kvmfleet_ip``), and prints its queues: with 2 vCPUs and
hw:vif_multiqueue_enabled unset it has 2 queue pairs (multiqueue by default).
Nothing leaves the host: the addresses are link-local, inside the bridge.
"""

import subprocess
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

BRIDGE, HOST_END, NS_END, NAMESPACE = 'kft-br0', 'kft-ve0', 'kft-ve1', 'kvmfleet-lan-test'
NS_ADDRESS, GUEST_ADDRESS = '169.254.77.1/24', '169.254.77.2/24'


def run(*command, namespace=None, check=True):
    """``command`` on this host, or inside ``namespace``."""
    if namespace is not None:
        command = ('ip', 'netns', 'exec', namespace, *command)
    return subprocess.run(command, capture_output=True, text=True, timeout=30, check=check)


def ip(*args, namespace=None, check=True):
    return run('ip', *args, namespace=namespace, check=check)


def remove_lan():
    ip('netns', 'delete', NAMESPACE, check=False)
    ip('link', 'delete', HOST_END, check=False)
    ip('link', 'delete', BRIDGE, check=False)


@pytest.fixture(scope='module')
def lan():
    """The bridge, and a namespace on it at NS_ADDRESS; removed afterwards."""
    remove_lan()
    try:
        ip('link', 'add', BRIDGE, 'type', 'bridge')
        ip('link', 'set', BRIDGE, 'up')
        ip('netns', 'add', NAMESPACE)
        ip('link', 'add', HOST_END, 'type', 'veth', 'peer', 'name', NS_END)
        ip('link', 'set', HOST_END, 'master', BRIDGE, 'up')
        ip('link', 'set', NS_END, 'netns', NAMESPACE)
        ip('addr', 'add', NS_ADDRESS, 'dev', NS_END, namespace=NAMESPACE)
        ip('link', 'set', NS_END, 'up', namespace=NAMESPACE)
    except subprocess.CalledProcessError as exc:
        remove_lan()
        missing_service(f"cannot make the test network: {exc.stderr.strip()}")
    yield
    remove_lan()


@pytest.fixture(scope='module')
def guest(conn, lan, instances_path, image):  # noqa: F811  (fixtures imported above)
    host = discover(conn, HostSettings(reserved_host_memory_mb=0, virt_type='qemu'),
                    host_name='this-host').topology
    shared = host.cell(0).shared_cpus
    if len(shared) < 2:
        missing_service('the guest floats 2 vCPUs over 2 shared pCPUs of cell 0')
    config = DriverConfig(instances_path=instances_path, images_path=str(IMAGE_DIR),
                          virt_type='qemu', launch_timeout=20,
                          networks=HostNetworks({'testnet': Bridge(BRIDGE, 'linux')}))
    driver = InstanceDriver(conn, host, config)
    booted = dict(image, cmdline=f"{image['cmdline']} kvmfleet_ip={GUEST_ADDRESS}")
    spec = RequestSpec(name='lan-guest', vcpus=2, memory_mb=256,
                       numa_cells=(GuestCell(0, (0, 1), 256),),
                       ports=(PortRequest(physical_network='testnet'),))
    pair = frozenset(sorted(shared)[:2])
    placed = Assignment(host='this-host', instance=str(uuid_lib.uuid4()), vcpus=2,
                        memory_mb=256, shared_cpus=pair,
                        cells=(CellAssignment(0, 0, (0, 1), 256, 4, {}, pair),))
    result = driver.build_and_launch(spec, placed, booted)
    assert result.ok, launch_failure(result)
    try:
        live = ET.fromstring(conn.domain_xml(domain_name(result.uuid)))
        console = wait_for_console(driver, result.uuid, 'KVMFLEET done', 60)
        yield {'live': live, 'console': console, 'driver': driver, 'uuid': result.uuid}
    finally:
        driver.delete(result.uuid)


def test_the_port_is_plugged_into_the_bridge_of_its_network(guest):
    interface = guest['live'].find('devices/interface')
    assert interface.get('type') == 'bridge'
    assert interface.find('source').get('bridge') == BRIDGE
    tap = interface.find('target').get('dev')
    assert ip('link', 'show', tap).stdout.count(f"master {BRIDGE}") == 1


def test_the_guest_answers_a_ping_from_the_namespace(guest):
    values = console_values(guest['console'])
    assert values.get('eth0_ip') == GUEST_ADDRESS, guest['console'][-2000:]
    deadline, answered = time.monotonic() + 20, None
    while time.monotonic() < deadline:
        answered = run('ping', '-c', '1', '-W', '1', GUEST_ADDRESS.split('/')[0],
                       namespace=NAMESPACE, check=False)
        if answered.returncode == 0:
            break
    assert answered.returncode == 0, answered.stdout + answered.stderr


def test_two_vcpus_get_two_queue_pairs_without_asking(guest):
    values = console_values(guest['console'])
    assert values.get('eth0_rx_queues') == '2', guest['console'][-2000:]
