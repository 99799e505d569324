"""Every domain the tests build is checked against libvirt's schema."""

import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

from agent.domain import domain_xml
from tests.conftest import missing_service


def validate_domain_xml(xml_text, tmp_path):
    """Run virt-xml-validate on the XML; fail the test with its output if invalid."""
    path = tmp_path / 'domain.xml'
    path.write_text(xml_text, encoding='utf-8')
    result = subprocess.run(['virt-xml-validate', str(path), 'domain'],
                            capture_output=True, text=True)
    assert result.returncode == 0, f"{result.stdout}{result.stderr}\n{xml_text}"


@pytest.fixture(scope='session')
def _validator_available():
    if shutil.which('virt-xml-validate') is None:
        missing_service('virt-xml-validate (libxml2-utils, libvirt-clients) is not installed')


@pytest.fixture
def build(tmp_path, _validator_available):
    """build(spec, assignment, image, settings, ports=None) -> parsed <domain>, schema-checked."""
    def _build(spec, assignment, image, settings, ports=None, flavor=None):
        text = domain_xml(spec, assignment, image, settings, ports, flavor)
        validate_domain_xml(text, tmp_path)
        return ET.fromstring(text)
    return _build


@pytest.fixture(scope='session')
def cascadelake(shared_fixtures):
    """The 2-socket Cascade Lake capture, discovered through the agent's seam (fake conn)."""
    from agent.discovery.host import discover
    from agent.discovery.opts import HostSettings
    from tests.unit.agent.fakes import FixtureConnection
    from wire.cpuset import parse_cpuset

    conn = FixtureConnection.from_files(
        shared_fixtures / 'capabilities' / 'virttuner_caps_cascadelake_2socket.xml',
        shared_fixtures / 'domcaps' / 'virtmanager_kvm-x86_64-domcaps-latest.xml',
        hostname='cascadelake')
    settings = HostSettings(dedicated_set=parse_cpuset('2-47,50-95'),
                            shared_set=parse_cpuset('0-1,48-49'))
    return discover(conn, settings).topology
