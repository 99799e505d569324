"""NIC shaping on this machine: the tc probe and discovery against the kernel's own config.

The expectation comes from the running kernel's configuration (/proc/config.gz
or /boot/config-<release>), not from tc: libvirt's ``<bandwidth>`` needs htb,
sfq, ingress, the fw and u32 classifiers and the police action.  On the
project's machines sfq, fw and police are missing, so the agent must not
report CUSTOM_KVMFLEET_VIF_BANDWIDTH and must log why; on a stock Debian
kernel they are modules and the trait is reported.
"""

import gzip
import logging
import os
import pathlib

import pytest

from agent.discovery import shaping
from agent.discovery.host import discover
from agent.discovery.opts import HostSettings
from tests.conftest import missing_service
from tests.functional.agent.test_real_guest import conn  # noqa: F401  (module fixture)

pytestmark = pytest.mark.libvirt

# kernel option -> the probe step that needs it
OPTIONS = {'CONFIG_NET_SCH_HTB': 'htb', 'CONFIG_NET_SCH_SFQ': 'sfq',
           'CONFIG_NET_SCH_INGRESS': 'ingress', 'CONFIG_NET_CLS_FW': 'fw filter',
           'CONFIG_NET_CLS_U32': 'u32 police', 'CONFIG_NET_ACT_POLICE': 'u32 police'}


@pytest.fixture(scope='module')
def missing_steps():
    """The probe steps this kernel cannot run, from its configuration."""
    proc = pathlib.Path('/proc/config.gz')
    boot = pathlib.Path(f"/boot/config-{os.uname().release}")
    if proc.exists():
        text = gzip.decompress(proc.read_bytes()).decode()
    elif boot.exists():
        text = boot.read_text()
    else:
        missing_service('no kernel configuration (/proc/config.gz, /boot/config-*) to check '
                        'the shaping probe against')
    have = {line.split('=')[0] for line in text.splitlines() if line.endswith(('=y', '=m'))}
    return {step for option, step in OPTIONS.items() if option not in have}


def test_the_probe_agrees_with_the_kernel_config(missing_steps):
    found = shaping.probe()
    assert found.able == (not missing_steps), found.reason
    for step in missing_steps:
        assert f"{step}: " in found.reason


def test_discovery_reports_the_trait_only_when_able_and_logs_why(
        conn, missing_steps, caplog):  # noqa: F811  (conn is the imported fixture)
    with caplog.at_level(logging.WARNING, logger='agent.discovery.shaping'):
        host = discover(conn, HostSettings(reserved_host_memory_mb=0, virt_type='qemu'),
                        host_name='this-host').topology
    assert ('CUSTOM_KVMFLEET_VIF_BANDWIDTH' in host.traits) == (not missing_steps)
    if missing_steps:
        assert 'CUSTOM_KVMFLEET_VIF_BANDWIDTH' in caplog.text
        assert all(f"{step}: " in caplog.text for step in missing_steps)
