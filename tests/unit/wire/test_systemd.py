"""sd_notify over a real unix datagram socket, as systemd listens for Type=notify."""

import os
import socket
import uuid

import pytest

from wire import systemd


@pytest.fixture
def listener(tmp_path):
    path = str(tmp_path / 'notify.sock')
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        sock.settimeout(2)
        yield path, sock


def test_states_arrive_as_one_datagram(listener):
    path, sock = listener
    assert systemd.notify(systemd.READY, 'STATUS=serving', environ={'NOTIFY_SOCKET': path})
    assert sock.recv(4096) == b'READY=1\nSTATUS=serving'


def test_an_abstract_socket_address_starts_with_at():
    name = f'kvmfleet-test-{uuid.uuid4().hex}'
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind('\0' + name)
        sock.settimeout(2)
        assert systemd.notify(systemd.STOPPING, environ={'NOTIFY_SOCKET': '@' + name})
        assert sock.recv(4096) == b'STOPPING=1'


def test_reloading_carries_the_monotonic_clock(listener):
    path, sock = listener
    systemd.notify(*systemd.reloading(), environ={'NOTIFY_SOCKET': path})
    state, clock = sock.recv(4096).decode().split('\n')
    assert state == 'RELOADING=1'
    assert clock.startswith('MONOTONIC_USEC=') and int(clock.split('=')[1]) > 0


@pytest.mark.parametrize('value', [None, '', 'relative/path', '/nonexistent/dir/notify.sock'])
def test_without_a_usable_socket_nothing_is_sent_and_nothing_fails(value):
    environ = {} if value is None else {'NOTIFY_SOCKET': value}
    assert systemd.notify(systemd.READY, environ=environ) is False


def test_the_process_environment_is_read_by_default(listener, monkeypatch):
    path, sock = listener
    monkeypatch.setitem(os.environ, 'NOTIFY_SOCKET', path)
    assert systemd.notify(systemd.READY)
    assert sock.recv(4096) == b'READY=1'
