"""Discovery against this machine's real libvirtd (qemu:///system), checked with sysfs.

What libvirt reports through the agent's seam must agree with the kernel:
NUMA nodes and their CPUs, memory per node, hugepage pools and free pages,
thread siblings.  The `kvmfleet-agent discover` command must print a fleet
file the scheduler side accepts.
"""

import json
import pathlib
import re
import subprocess
import sys

import pytest

from agent.discovery.host import discover
from agent.discovery.opts import HostSettings
from agent.exceptions import LibvirtError
from agent.libvirt_conn import LibvirtConnection
from tests.conftest import missing_service
from wire.cpuset import parse_cpuset
from wire.files import parse_fleet

pytestmark = pytest.mark.libvirt

URI = 'qemu:///system'
NODES = pathlib.Path('/sys/devices/system/node')
CPUS = pathlib.Path('/sys/devices/system/cpu')


def _require_libvirtd():
    conn = LibvirtConnection(URI)
    try:
        conn.hostname()
    except LibvirtError as exc:
        missing_service(f"libvirtd not reachable at {URI}: {exc}")
    return conn


@pytest.fixture(scope='module')
def conn():
    connection = _require_libvirtd()
    yield connection
    connection.close()


@pytest.fixture(scope='module')
def found(conn):
    return discover(conn, HostSettings(virt_type='qemu'))


def _node_ids():
    return sorted(int(p.name[4:]) for p in NODES.glob('node[0-9]*'))


def _read(path):
    return pathlib.Path(path).read_text().strip()


def _hugepages(node):
    pools = {}
    for pool in (NODES / f"node{node}" / 'hugepages').glob('hugepages-*kB'):
        size = int(re.match(r'hugepages-(\d+)kB', pool.name).group(1))
        pools[size] = (int(_read(pool / 'nr_hugepages')), int(_read(pool / 'free_hugepages')))
    return pools


def test_cells_and_cpus_match_sysfs(found):
    host = found.topology
    assert [cell.id for cell in host.cells] == _node_ids()
    for cell in host.cells:
        # no cpu sets configured: every online CPU is shared, none dedicated
        assert not cell.cpus
        assert cell.shared_cpus == parse_cpuset(_read(NODES / f"node{cell.id}" / 'cpulist'))


def test_thread_siblings_match_sysfs(found):
    for cell in found.topology.cells:
        for cpu in cell.shared_cpus:
            siblings = parse_cpuset(_read(CPUS / f"cpu{cpu}" / 'topology' /
                                          'thread_siblings_list'))
            assert cell.sibling_set(cpu) == siblings


def test_memory_per_cell_matches_node_meminfo(found):
    for cell in found.topology.cells:
        meminfo = _read(NODES / f"node{cell.id}" / 'meminfo')
        total_kb = int(re.search(r'MemTotal:\s+(\d+) kB', meminfo).group(1))
        assert cell.memory_mb == total_kb // 1024


def test_hugepage_pools_match_sysfs_and_proc_meminfo(found):
    for cell in found.topology.cells:
        assert cell.pages == {size: total for size, (total, _) in _hugepages(cell.id).items()}
    meminfo = _read('/proc/meminfo')
    default_kb = int(re.search(r'Hugepagesize:\s+(\d+) kB', meminfo).group(1))
    total = int(re.search(r'HugePages_Total:\s+(\d+)', meminfo).group(1))
    assert sum(cell.pages.get(default_kb, 0) for cell in found.topology.cells) == total


def test_free_pages_match_sysfs(conn, found):
    cells = [cell.id for cell in found.topology.cells]
    sizes = sorted({size for cell in found.topology.cells for size in cell.pages})
    before = {n: {s: free for s, (_, free) in _hugepages(n).items()} for n in cells}
    now = conn.free_pages(cells, sizes)
    after = {n: {s: free for s, (_, free) in _hugepages(n).items()} for n in cells}
    # guests of other tests may start or stop meanwhile: agree with one of the reads
    assert now in (before, after)


def test_free_pages_of_a_missing_cell_is_a_libvirt_error(conn):
    with pytest.raises(LibvirtError) as caught:
        conn.free_pages([max(_node_ids()) + 100], [2048])
    assert caught.value.operation.startswith('getFreePages(cell ')


def test_virt_type_and_domain_capabilities(found):
    assert found.virt_type == 'qemu'
    assert found.domain_capabilities.virt_type == 'qemu'
    assert found.domain_capabilities.arch == found.capabilities.arch


def test_list_domains_returns_plain_tuples(conn):
    for name, uuid, xml, state in conn.list_domains():
        assert isinstance(name, str) and len(uuid) == 36
        assert xml.startswith('<domain') and isinstance(state, str)


def _agent(*args, tmp_path):
    config = tmp_path / 'agent.conf'
    config.write_text(f"[libvirt]\nvirt_type = qemu\nconnection_uri = {URI}\n")
    script = pathlib.Path(sys.executable).with_name('kvmfleet-agent')
    program = [str(script)] if script.exists() else [sys.executable, '-m',
                                                      'agent.cmd.service']
    command = [*program, 'discover', *args, '--config-file', str(config)]
    return subprocess.run(command, capture_output=True, text=True, timeout=60,
                          cwd=pathlib.Path(__file__).resolve().parents[3])


def test_discover_command_prints_a_fleet_file(found, tmp_path):
    result = _agent('--format', 'json', tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    [host] = parse_fleet(json.loads(result.stdout))
    assert [cell.id for cell in host.cells] == [cell.id for cell in found.topology.cells]
    assert host.cells[0].memory_mb == found.topology.cells[0].memory_mb


def test_discover_command_prints_a_table(tmp_path):
    result = _agent('--format', 'table', tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert re.search(r'^host \S+  virt_type qemu ', result.stdout)
    assert re.search(r'^\s+0\s', result.stdout, re.MULTILINE)
