"""systemd readiness notification (``Type=notify``) without a systemd library.

systemd passes ``NOTIFY_SOCKET`` (a unix datagram socket path, or ``@name``
for the abstract namespace) to a service it starts; the service sends
``READY=1`` when it serves, ``RELOADING=1`` while it reloads and
``STOPPING=1`` when it begins to stop.  Outside systemd the variable is
unset and every call does nothing.
"""

import logging
import os
import socket
import time

LOG = logging.getLogger(__name__)
READY = 'READY=1'
STOPPING = 'STOPPING=1'
RELOADING = 'RELOADING=1'


def socket_address(value):
    """The address to send to for a NOTIFY_SOCKET value, None when unusable."""
    if not value:
        return None
    if value.startswith('@'):
        return '\0' + value[1:]       # abstract namespace
    if value.startswith('/'):
        return value
    return None


def notify(*states, environ=None):
    """Send ``states`` (``KEY=value`` lines) to systemd; True if a datagram left.

    A missing or unusable socket is not an error: the service runs the same
    without a supervisor, so this only logs at debug level.
    """
    environ = os.environ if environ is None else environ
    address = socket_address(environ.get('NOTIFY_SOCKET'))
    if address is None:
        return False
    message = '\n'.join(states).encode('utf-8')
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.sendto(message, address)
    except OSError as exc:
        LOG.debug('systemd notification %r not sent: %s', states, exc)
        return False
    return True


def reloading():
    """The states of a reload start (``MONOTONIC_USEC`` as ``Type=notify-reload`` wants)."""
    return (RELOADING, f"MONOTONIC_USEC={time.monotonic_ns() // 1000}")
