"""SEV launch parameters and secure boot from real domain capabilities captures."""

import pytest

from agent.driver_features import features_from_domcaps
from agent.exceptions import HostXmlError


@pytest.mark.parametrize('capture, cbitpos, reduced', [
    ('virtmanager_kvm-x86_64-domcaps-amd-sev.xml', 51, 1),
    ('kubevirt_domcapabilities_sevsnp.xml', 47, 1),
    ('virtmanager_kvm-x86_64-domcaps-latest.xml', None, None),
])
def test_sev_parameters_from_captures(shared_fixtures, capture, cbitpos, reduced):
    xml = (shared_fixtures / 'domcaps' / capture).read_text()
    features = features_from_domcaps(xml)
    assert (features['sev_cbitpos'], features['sev_reduced_phys_bits']) == (cbitpos, reduced)


@pytest.mark.parametrize('xml, given, expected', [
    ("<domainCapabilities><os><loader><enum name='secure'><value>no</value>"
     "<value>yes</value></enum></loader></os></domainCapabilities>", None, True),
    ("<domainCapabilities><os><loader><enum name='secure'><value>no</value>"
     "</enum></loader></os></domainCapabilities>", None, False),
    ('<domainCapabilities/>', True, True),
])
def test_secure_boot(xml, given, expected):
    assert features_from_domcaps(xml, given)['secure_boot_available'] is expected


@pytest.mark.parametrize('xml', ['<not xml', "<domainCapabilities><features><sev "
                                 "supported='yes'><cbitpos>x</cbitpos></sev></features>"
                                 '</domainCapabilities>'])
def test_bad_xml_is_named(xml):
    with pytest.raises(HostXmlError, match='domain capabilities'):
        features_from_domcaps(xml)
