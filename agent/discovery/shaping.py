"""Whether this host's kernel can shape a guest NIC the way libvirt's ``<bandwidth>`` does.

libvirt shapes a tap's inbound traffic with an htb class and an sfq leaf
(selected by an fw filter) on the tap's root, and polices its outbound
traffic with a u32 filter and the police action on an ingress qdisc.  A
kernel without one of these starts no guest with ``<bandwidth>``.  The probe
runs exactly those tc commands on the loopback device of a network namespace
of its own (``unshare --net``: nothing on the host is touched, and the
namespace goes when the probe exits) and says which one failed.
"""

import dataclasses
import logging
import subprocess
import urllib.parse

from wire.guest_quota import TRAIT_VIF_BANDWIDTH

LOG = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 10
# What libvirt runs (virNetDevBandwidthSet), on ``lo`` instead of a tap.
STEPS = (
    ('htb', 'tc qdisc add dev lo root handle 1: htb default 1'),
    ('htb class', 'tc class add dev lo parent 1: classid 1:1 htb rate 1mbit'),
    ('sfq', 'tc qdisc add dev lo parent 1:1 handle 2: sfq perturb 10'),
    ('fw filter', 'tc filter add dev lo parent 1:0 protocol all prio 1 handle 1 fw flowid 1'),
    ('ingress', 'tc qdisc add dev lo ingress'),
    ('u32 police', 'tc filter add dev lo parent ffff: protocol all u32 match u32 0 0 '
                   'police rate 1mbit burst 16kb drop flowid :1'),
)


@dataclasses.dataclass(frozen=True, slots=True)
class Shaping:
    """The probe's answer: ``able``, or why not (the failed steps and tc's words)."""

    able: bool
    reason: str = ''


def probe_script():
    """One shell script running every step, each failure reported as ``FAILED <step>: ...``."""
    lines = ['ip link set lo up']
    for name, command in STEPS:
        lines.append(f"out=$({command} 2>&1) || echo \"FAILED {name}: $out\"")
    return '\n'.join(lines)


def probe(run=subprocess.run):
    """Shaping for this host: run the steps in a private network namespace."""
    try:
        result = run(['unshare', '--net', 'sh', '-c', probe_script()], capture_output=True,
                     text=True, timeout=PROBE_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Shaping(False, f"the tc probe could not run: {exc}")
    if result.returncode != 0:
        return Shaping(False, f"the tc probe could not run: {result.stderr.strip()[-300:]}")
    failed = [' '.join(line[len('FAILED '):].split())
              for line in result.stdout.splitlines() if line.startswith('FAILED ')]
    if failed:
        return Shaping(False, '; '.join(failed)[:600])
    return Shaping(True)


def probe_for(conn, run=subprocess.run):
    """The probe for a connection to this machine's hypervisor; a remote or test
    connection (another host, libvirt's test driver) cannot be probed from here."""
    uri = getattr(conn, 'uri', '') or ''
    parts = urllib.parse.urlsplit(uri)
    if parts.netloc or not parts.scheme.startswith('qemu'):
        return Shaping(False, f"{uri or 'this connection'} is not this machine's QEMU")
    shaping = probe(run)
    if not shaping.able:
        LOG.warning('NIC bandwidth (quota:vif_*) cannot be shaped on this host, so it does '
                    'not report %s: %s', TRAIT_VIF_BANDWIDTH, shaping.reason)
    return shaping
