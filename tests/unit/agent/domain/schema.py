"""libvirt's schema check (virt-xml-validate) for every domain the tests produce."""

import pathlib
import re
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET

from tests.conftest import missing_service

INSTALLED_SCHEMA = pathlib.Path('/usr/share/libvirt/schemas/domaincommon.rng')
# libvirt's domaincommon.rng (>= 10.5), define launchSecuritySEVSNP: these children at most
# once each, in any order, policy required; authorKey, vcek, kernelHashes yes/no attributes.
SEV_SNP_CHILDREN = {'cbitpos': r'[0-9]+', 'reducedPhysBits': r'[0-9]+',
                    'policy': r'(0x)?[0-9a-f]+', 'guestVisibleWorkarounds': r'.*',
                    'idBlock': r'.*', 'idAuth': r'.*', 'hostData': r'.*'}
SEV_SNP_ATTRIBUTES = {'type', 'authorKey', 'vcek', 'kernelHashes'}


def require_validator():
    if shutil.which('virt-xml-validate') is None:
        missing_service('virt-xml-validate (libxml2-utils, libvirt-clients) is not installed')


def validate_domain_xml(xml_text):
    """Assert that ``xml_text`` is a valid libvirt domain; the failure shows why."""
    require_validator()
    with tempfile.NamedTemporaryFile('w', suffix='.xml', encoding='utf-8') as handle:
        handle.write(xml_text)
        handle.flush()
        result = subprocess.run(['virt-xml-validate', handle.name, 'domain'],
                                capture_output=True, text=True)
    assert result.returncode == 0, f"{result.stdout}{result.stderr}\n{xml_text}"
    return xml_text


def schema_knows_launch_security(kind):
    """Whether the installed libvirt schema has ``<launchSecurity type=kind>``."""
    require_validator()
    return f'<value>{kind}</value>' in INSTALLED_SCHEMA.read_text(encoding='utf-8')


def validate_sev_snp_domain_xml(xml_text):
    """Validate a domain with ``<launchSecurity type='sev-snp'>``: with virt-xml-validate
    when the installed schema knows it (libvirt >= 10.5); else the rest of the domain with
    it, and the launch security against the rules of libvirt's newer schema, checked here."""
    if schema_knows_launch_security('sev-snp'):
        return validate_domain_xml(xml_text)
    domain = ET.fromstring(xml_text)
    launch = domain.find('launchSecurity')
    assert launch is not None and launch.get('type') == 'sev-snp', xml_text
    assert set(launch.attrib) <= SEV_SNP_ATTRIBUTES, launch.attrib
    assert all(launch.get(name) in ('yes', 'no') for name in launch.attrib if name != 'type')
    tags = [child.tag for child in launch]
    assert len(tags) == len(set(tags)) and set(tags) <= set(SEV_SNP_CHILDREN), tags
    assert 'policy' in tags and not (launch.text or '').strip(), xml_text
    for child in launch:
        assert re.fullmatch(SEV_SNP_CHILDREN[child.tag], child.text or ''), ET.tostring(child)
        assert not list(child) and not child.attrib
    domain.remove(launch)
    validate_domain_xml(ET.tostring(domain, encoding='unicode'))
    return xml_text
