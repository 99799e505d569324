"""Every domain the tests build is checked against libvirt's schema."""

import xml.etree.ElementTree as ET

import pytest

from agent.domain import domain_xml
from tests.unit.agent.domain.schema import validate_domain_xml


@pytest.fixture
def build():
    """build(spec, assignment, image, settings, ports=None) -> parsed <domain>, schema-checked."""
    def _build(spec, assignment, image, settings, ports=None, flavor=None):
        return ET.fromstring(validate_domain_xml(
            domain_xml(spec, assignment, image, settings, ports, flavor)))
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
