"""SEV launch parameters and secure boot from real domain capabilities captures."""

import pytest

from agent.discovery.domcaps import parse_domain_capabilities
from agent.driver_features import host_features
from agent.exceptions import HostXmlError


@pytest.mark.parametrize('capture, cbitpos, reduced, secure_boot', [
    ('virtmanager_kvm-x86_64-domcaps-amd-sev.xml', 51, 1, False),
    ('kubevirt_domcapabilities_sevsnp.xml', 47, 1, False),
    ('virtmanager_kvm-x86_64-domcaps-latest.xml', None, None, True),
])
def test_features_from_captures(shared_fixtures, capture, cbitpos, reduced, secure_boot):
    xml = (shared_fixtures / 'domcaps' / capture).read_text()
    features = host_features(parse_domain_capabilities(xml))
    assert (features['sev_cbitpos'], features['sev_reduced_phys_bits']) == (cbitpos, reduced)
    assert features['secure_boot_available'] is secure_boot


def test_no_domain_capabilities_means_no_sev_and_no_secure_boot():
    features = host_features(None)
    assert features['sev_cbitpos'] is None
    assert features['secure_boot_available'] is False


def test_bad_sev_parameter_is_named():
    xml = ("<domainCapabilities><features><sev supported='yes'><cbitpos>x</cbitpos></sev>"
           "</features></domainCapabilities>")
    with pytest.raises(HostXmlError, match='domain capabilities'):
        parse_domain_capabilities(xml)


def test_the_stateless_loader_is_a_plain_uefi_code_file():
    xml = ("<domainCapabilities><os supported='yes'><loader supported='yes'>"
           "<value>/usr/share/OVMF/OVMF_CODE_4M.ms.fd</value>"
           "<value>/usr/share/OVMF/OVMF_CODE_4M.secboot.fd</value>"
           "<value>/usr/share/OVMF/OVMF_CODE_4M.fd</value></loader></os></domainCapabilities>")
    assert host_features(parse_domain_capabilities(xml))['stateless_loader'] == \
        '/usr/share/OVMF/OVMF_CODE_4M.fd'
    secure_only = xml.replace('<value>/usr/share/OVMF/OVMF_CODE_4M.fd</value>', '')
    assert host_features(parse_domain_capabilities(secure_only))['stateless_loader'] is None
    assert host_features(None)['stateless_loader'] is None
