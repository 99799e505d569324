"""libvirt's schema check (virt-xml-validate) for every domain the tests produce."""

import shutil
import subprocess
import tempfile

from tests.conftest import missing_service


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
