"""The seam's events, close handling and schema validation on libvirt's test driver.

Each test opens a private test driver (``test:///<file>``): its own domains,
so destroying one does not disturb other tests sharing test:///default.
"""

import threading
import time

import pytest

from agent import libvirt_conn
from agent.exceptions import LibvirtError
from agent.libvirt_conn import LibvirtConnection

GUEST_UUID = '6695eb01-f6a4-8304-79aa-97f2502e193f'
NODE_XML = f"""<node>
  <cpu><mhz>2000</mhz><model>test</model></cpu>
  <memory>1048576</memory>
  <domain type='test'><name>guest-a</name><uuid>{GUEST_UUID}</uuid>
    <memory>65536</memory><os><type>hvm</type></os></domain>
</node>
"""
SCHEMA_INVALID = """<domain type='test'><name>bad</name><memory>65536</memory>
  <os><type>hvm</type></os><no-such-element/></domain>"""
VALID = """<domain type='test'><name>good</name><memory>65536</memory>
  <os><type>hvm</type></os></domain>"""
VIR_ERR_XML_INVALID_SCHEMA = 92


class Recorder:
    def __init__(self):
        self.events = []
        self.closes = []
        self.changed = threading.Condition()

    def lifecycle(self, name, uuid, event, detail):
        with self.changed:
            self.events.append((name, uuid, event, detail))
            self.changed.notify_all()

    def closed(self, reason):
        self.closes.append(reason)

    def wait_for(self, event, timeout=5):
        deadline = time.monotonic() + timeout
        with self.changed:
            while not any(e[2] == event for e in self.events):
                if not self.changed.wait(max(0.0, deadline - time.monotonic())):
                    raise AssertionError(f"no {event} event in {timeout}s: {self.events}")
        return [e for e in self.events if e[2] == event][-1]


@pytest.fixture
def private_uri(tmp_path):
    path = tmp_path / 'node.xml'
    path.write_text(NODE_XML)
    return f"test://{path}"


@pytest.fixture
def watched(private_uri):
    libvirt_conn.start_event_loop()
    recorder = Recorder()
    conn = LibvirtConnection(private_uri)
    conn.watch(on_lifecycle=recorder.lifecycle, on_close=recorder.closed)
    yield conn, recorder
    conn.close()


def test_event_loop_starts_once():
    libvirt_conn.start_event_loop()
    first = libvirt_conn._event_loop_thread
    libvirt_conn.start_event_loop()
    assert libvirt_conn._event_loop_thread is first and first.is_alive()


def test_destroy_is_an_event_with_plain_names(watched):
    conn, recorder = watched
    assert conn.domain_state('guest-a') == 'running'
    started = time.monotonic()
    conn.destroy_domain('guest-a')
    assert recorder.wait_for('stopped') == ('guest-a', GUEST_UUID, 'stopped', 'destroyed')
    assert time.monotonic() - started < 1.0


def test_why_a_domain_is_off_is_read_without_events(watched):
    """The periodic sync reads it: a QEMU that died is 'crashed' whoever sees it first."""
    conn, _ = watched
    assert conn.shutoff_reason('guest-a') is None            # running
    conn.destroy_domain('guest-a')
    assert conn.shutoff_reason('guest-a') == 'destroyed'
    assert conn.shutoff_reason('no-such-domain') is None


def test_start_suspend_resume_undefine_are_named(watched):
    conn, recorder = watched
    conn.destroy_domain('guest-a')
    conn.start_domain('guest-a')
    recorder.wait_for('started')
    conn.conn.lookupByName('guest-a').suspend()
    recorder.wait_for('suspended')
    conn.conn.lookupByName('guest-a').resume()
    recorder.wait_for('resumed')
    conn.destroy_domain('guest-a')
    conn.undefine_domain('guest-a')
    recorder.wait_for('undefined')
    assert [e[2] for e in recorder.events] == [
        'stopped', 'started', 'suspended', 'resumed', 'stopped', 'undefined']


def test_a_closed_connection_refuses_every_call_until_reopened(watched):
    conn, recorder = watched
    conn.hostname()
    dead = conn._conn
    conn._closed(dead, next(iter(libvirt_conn.CLOSE_REASONS)), None)   # as libvirt would
    assert not conn.connected and not conn.is_alive()
    assert recorder.closes == [libvirt_conn.CLOSE_REASONS[next(iter(libvirt_conn.CLOSE_REASONS))]]
    with pytest.raises(LibvirtError, match='closed .*reconnecting'):
        conn.list_domains()     # never an empty list from a dead connection
    conn.reopen()
    assert conn.connected and conn.is_alive() and conn._conn is not dead
    conn._closed(dead, 0, None)          # a late close of the old connection changes nothing
    assert conn.connected
    conn.destroy_domain('guest-a')       # callbacks were registered on the new connection
    assert recorder.wait_for('stopped')[0] == 'guest-a'


def test_reopen_that_fails_leaves_the_connection_closed(tmp_path):
    conn = LibvirtConnection(f"test://{tmp_path / 'missing.xml'}")
    with pytest.raises(LibvirtError, match='open test://'):
        conn.reopen()
    assert not conn.connected
    with pytest.raises(LibvirtError, match='reconnecting'):
        conn.hostname()


def test_schema_invalid_domain_is_refused_before_anything_is_defined(private_uri):
    conn = LibvirtConnection(private_uri)
    before = conn.list_domains()
    with pytest.raises(LibvirtError) as caught:
        conn.define_domain(SCHEMA_INVALID)
    assert caught.value.code == VIR_ERR_XML_INVALID_SCHEMA
    assert caught.value.operation == 'defineXML(validate)'
    assert 'no-such-element' in str(caught.value)
    assert conn.list_domains() == before
    assert len(conn.define_domain(VALID)) == 36     # valid XML still defines
    conn.close()
