"""The libvirt seam: plain values out, LibvirtError with the operation on failure.

Runs against libvirt's in-process test driver (test:///default), no daemon needed.
"""

import ast
import inspect
import pathlib
import time

import pytest

from agent import libvirt_conn
from agent.discovery.capabilities import cpu_features_of, parse_capabilities
from agent.discovery.host import discover
from agent.discovery.opts import HostSettings
from agent.exceptions import LibvirtError
from agent.libvirt_conn import LibvirtConnection
from tests.unit.agent.fakes import FixtureConnection, read

AGENT = pathlib.Path(libvirt_conn.__file__).resolve().parent
SEAM_METHODS = ('capabilities', 'domain_capabilities', 'pci_device_xmls', 'free_pages',
                'hostname', 'node_memory_kb', 'expanded_cpu_xml', 'list_domains', 'domain_xml',
                'close')


@pytest.fixture
def conn():
    connection = LibvirtConnection('test:///default')
    yield connection
    connection.close()


def test_only_the_seam_imports_libvirt():
    importers = []
    for path in AGENT.rglob('*.py'):
        for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ''] if isinstance(node, ast.ImportFrom) else [])
            if any(name == 'libvirt' or name.startswith('libvirt.') for name in names):
                importers.append(path.relative_to(AGENT).as_posix())
    assert importers == ['libvirt_conn.py']


@pytest.mark.parametrize('method', SEAM_METHODS)
def test_fixture_connection_has_the_seam_interface(method):
    real = inspect.signature(getattr(LibvirtConnection, method))
    fake = inspect.signature(getattr(FixtureConnection, method))
    assert list(real.parameters) == list(fake.parameters)


def test_connection_opens_lazily_and_returns_strings(conn):
    assert conn._conn is None
    caps = conn.capabilities()
    assert isinstance(caps, str) and conn._conn is not None
    assert [cell.id for cell in parse_capabilities(caps).cells] == [0, 1]
    assert isinstance(conn.hostname(), str) and conn.hostname()
    assert conn.node_memory_kb() > 0 and conn.node_memory_kb() % 1024 == 0


def test_free_pages_are_asked_per_cell(conn):
    assert conn.free_pages([0, 1], [2048]) == {0: {}, 1: {}}   # the test driver has no pools
    assert conn.free_pages([0], []) == {0: {}}


def test_domains_are_listed_as_plain_tuples(conn):
    [(name, uuid, xml, state)] = conn.list_domains()
    assert (name, state) == ('test', 'running')
    assert len(uuid) == 36 and xml.startswith('<domain')
    assert conn.domain_xml('test') == xml


@pytest.mark.parametrize('call, operation, code', [
    (lambda c: c.domain_xml('missing'), 'XMLDesc(missing)', 42),
    (lambda c: c.domain_capabilities('kvm', 'x86_64'),
     'getDomainCapabilities(kvm, x86_64, None)', 3),
])
def test_libvirt_failures_become_libvirt_error_naming_the_operation(conn, call, operation,
                                                                    code):
    with pytest.raises(LibvirtError) as caught:
        call(conn)
    assert caught.value.operation == operation
    assert str(caught.value).startswith(f"libvirt {operation} failed: ")
    assert caught.value.code == code


def test_unknown_uri_fails_on_first_use_with_the_uri_named():
    conn = LibvirtConnection('nosuchdriver:///x')
    with pytest.raises(LibvirtError, match='libvirt open nosuchdriver:///x failed'):
        conn.hostname()
    conn.close()   # closing a never-opened connection is harmless


def test_cpu_model_features_are_expanded_by_libvirt(conn, shared_fixtures):
    caps = parse_capabilities(read(shared_fixtures / 'capabilities' /
                                   'virttuner_caps_cascadelake_2socket.xml'))
    assert 'avx512f' not in caps.cpu_features      # implied by the model, not listed
    expanded = cpu_features_of(conn.expanded_cpu_xml(caps.cpu_xml))
    assert {'avx512f', 'avx512vnni', 'avx2', 'aes', 'sse4.2'} <= expanded


def test_expanded_features_reach_the_traits(conn, shared_fixtures):
    caps_path = shared_fixtures / 'capabilities' / 'virttuner_caps_cascadelake_2socket.xml'
    cpu_xml = parse_capabilities(read(caps_path)).cpu_xml
    domcaps = shared_fixtures / 'domcaps' / 'virtmanager_kvm-x86_64-domcaps-latest.xml'
    plain = FixtureConnection.from_files(caps_path, domcaps=domcaps)
    expanded = FixtureConnection.from_files(
        caps_path, domcaps=domcaps, expanded_cpu=conn.expanded_cpu_xml(cpu_xml))
    assert 'HW_CPU_X86_AVX512F' not in discover(plain, HostSettings()).topology.traits
    traits = discover(expanded, HostSettings()).topology.traits
    assert {'HW_CPU_X86_AVX512F', 'HW_CPU_X86_AVX512VNNI', 'HW_CPU_X86_AESNI'} <= traits


def test_expansion_failure_is_a_libvirt_error(conn):
    with pytest.raises(LibvirtError, match='baselineCPU'):
        conn.expanded_cpu_xml('<cpu><arch>nonsense</arch></cpu>')


class MigratingDomain:
    """Stands in for a virDomain: records migrateToURI3 and abortJob."""

    def __init__(self, fail=None, seconds=0.0):
        self.calls = []
        self.fail = fail
        self.seconds = seconds

    def migrateToURI3(self, uri, params, flags):
        self.calls.append(('migrateToURI3', uri, params, flags))
        time.sleep(self.seconds)
        if self.fail:
            raise libvirt_conn.libvirt.libvirtError(self.fail)

    def abortJob(self):
        self.calls.append(('abortJob',))


@pytest.mark.parametrize('live, copy, keep, expected', [
    (True, False, False, ('PEER2PEER', 'PERSIST_DEST', 'UNDEFINE_SOURCE', 'LIVE',
                          'ABORT_ON_ERROR')),
    (True, True, False, ('PEER2PEER', 'PERSIST_DEST', 'UNDEFINE_SOURCE', 'LIVE',
                         'ABORT_ON_ERROR', 'NON_SHARED_INC')),
    (False, False, False, ('PEER2PEER', 'PERSIST_DEST', 'UNDEFINE_SOURCE', 'OFFLINE')),
    # a resize keeps the stopped source definition for a revert
    (False, False, True, ('PEER2PEER', 'PERSIST_DEST', 'OFFLINE')),
])
def test_migrate_asks_libvirt_for_a_peer_to_peer_move_with_the_destination_xml(
        conn, monkeypatch, live, copy, keep, expected):
    domain = MigratingDomain()
    monkeypatch.setattr(conn, '_domain', lambda name: domain)
    conn.migrate('kvmfleet-x', 'qemu+tcp://host-b/system', '<domain/>', live=live,
                 data_uri='unix:///run/m.sock', copy_storage=copy, bandwidth_mib=64,
                 keep_source=keep)
    (_, uri, params, flags), = domain.calls
    virt = libvirt_conn.libvirt
    assert uri == 'qemu+tcp://host-b/system'
    assert flags == sum(getattr(virt, f"VIR_MIGRATE_{name}") for name in expected)
    assert params[virt.VIR_MIGRATE_PARAM_DEST_XML] == '<domain/>'
    assert params[virt.VIR_MIGRATE_PARAM_PERSIST_XML] == '<domain/>'
    assert params.get(virt.VIR_MIGRATE_PARAM_URI) == ('unix:///run/m.sock' if live else None)
    assert params.get(virt.VIR_MIGRATE_PARAM_BANDWIDTH) == (64 if live else None)
    # disks travel over NBD: beside a UNIX data socket, a socket of their own
    assert params.get(virt.VIR_MIGRATE_PARAM_DISKS_URI) == (
        'unix:///run/m.sock.disks' if copy else None)


def test_a_migration_past_its_timeout_is_aborted_and_fails(conn, monkeypatch):
    domain = MigratingDomain(fail='operation aborted: migration job: canceled by client',
                             seconds=0.3)
    monkeypatch.setattr(conn, '_domain', lambda name: domain)
    with pytest.raises(LibvirtError, match='migrate kvmfleet-x to qemu'):
        conn.migrate('kvmfleet-x', 'qemu+tcp://b/system', '<domain/>', timeout=0.05)
    assert ('abortJob',) in domain.calls


@pytest.mark.parametrize('uri, expected', [
    ('qemu+tcp://host-b/system', 'qemu+tcp://host-b/system'),
    ('qemu+unix:///system?socket=/run/b/sock', 'qemu+unix:///system?socket=/run/b/sock'),
    ('test:///default', 'qemu+tcp://{host}/system'),
])
def test_default_migration_uri(uri, expected):
    connection = LibvirtConnection(uri)
    try:
        host = connection.hostname() if '{host}' in expected else ''
        assert connection.default_migration_uri() == expected.format(host=host)
    finally:
        connection.close()
