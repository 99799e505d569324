"""The kvmfleet block in a domain's <metadata>: enough to rebuild the agent's view.

The request spec and the assignment travel as JSON text inside elements of a
kvmfleet namespace; ElementTree escapes them, so hostile names and metadata
cannot break out of their element.  ``parse_metadata`` reads them back from
the domain XML libvirt returns.
"""

import json
import re
import xml.etree.ElementTree as ET

from agent.domain.settings import DomainBuildError
from wire.assignment import Assignment
from wire.request_spec import RequestSpec

NAMESPACE = 'https://kvmfleet.dev/xmlns/instance/1.0'
PREFIX = 'kvmfleet'
METADATA_VERSION = '1'

# Characters XML 1.0 cannot carry at all, escaped or not.
XML_ILLEGAL = re.compile('[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]')

ET.register_namespace(PREFIX, NAMESPACE)


class MetadataError(ValueError):
    """A domain's kvmfleet metadata is missing a part or does not parse."""


def xml_text(value, field):
    """``value`` if XML can carry it; DomainBuildError naming ``field`` otherwise."""
    if XML_ILLEGAL.search(value):
        raise DomainBuildError(f"{field}: contains characters XML cannot carry "
                               '(control characters other than tab/newline)')
    return value


def _tag(name):
    return f"{{{NAMESPACE}}}{name}"


def instance_element(uuid, spec, assignment, flavor=None):
    """The <kvmfleet:instance> element for one instance."""
    root = ET.Element(_tag('instance'), {'version': METADATA_VERSION})
    ET.SubElement(root, _tag('uuid')).text = uuid
    ET.SubElement(root, _tag('name')).text = xml_text(spec.name, 'spec.name')
    ET.SubElement(root, _tag('flavor')).text = xml_text(flavor or '', 'flavor')
    ET.SubElement(root, _tag('request-spec')).text = json.dumps(spec.to_dict(), sort_keys=True)
    ET.SubElement(root, _tag('assignment')).text = json.dumps(assignment.to_dict(),
                                                              sort_keys=True)
    return root


def has_metadata(domain_xml):
    """True when the domain carries a kvmfleet instance block (so the agent made it)."""
    return _find_instance(ET.fromstring(domain_xml)) is not None


def parse_metadata(domain_xml):
    """Return (uuid, RequestSpec, Assignment) from a domain's XML.

    Raises MetadataError naming the missing or broken part.
    """
    block = _find_instance(ET.fromstring(domain_xml))
    if block is None:
        raise MetadataError('domain has no kvmfleet instance metadata')
    return _parse_block(block)


def _parse_block(block):
    uuid = _text(block, 'uuid')
    try:
        spec = RequestSpec.from_dict(json.loads(_text(block, 'request-spec')))
        assignment = Assignment.from_dict(json.loads(_text(block, 'assignment')))
    except (ValueError, TypeError, KeyError) as exc:
        raise MetadataError(f"instance {uuid}: unreadable metadata: {exc}")
    return uuid, spec, assignment


def _find_instance(domain):
    metadata = domain.find('metadata')
    if metadata is None:
        return None
    return metadata.find(_tag('instance'))


def _text(block, name):
    element = block.find(_tag(name))
    if element is None or element.text is None:
        raise MetadataError(f"kvmfleet metadata has no <{name}>")
    return element.text


class MetadataCache:
    """Parsed kvmfleet metadata of one host's domains, keyed by domain name.

    Verification reads the metadata of every domain on the host at each build.
    libvirt's XML stays the truth (callers pass the text they just read); the
    same text always parses to the same metadata, so only a changed text is
    parsed again.  ``read`` answers (uuid, spec, assignment), a MetadataError
    (unreadable block), or None (a domain kvmfleet did not make).
    """

    def __init__(self):
        self._entries = {}

    def read(self, name, domain_xml):
        cached = self._entries.get(name)
        if cached is not None and cached[0] == domain_xml:
            return cached[1]
        parsed = read_metadata(domain_xml)
        self._entries[name] = (domain_xml, parsed)
        return parsed

    def retain(self, names):
        """Forget domains not in ``names`` (undefined since)."""
        self._entries = {n: e for n, e in self._entries.items() if n in names}


def read_metadata(domain_xml):
    """(uuid, spec, assignment) of a kvmfleet domain, its MetadataError, or None if not ours.

    One XML parse (``has_metadata`` then ``parse_metadata`` would take two).
    """
    block = _find_instance(ET.fromstring(domain_xml))
    if block is None:
        return None
    try:
        return _parse_block(block)
    except MetadataError as exc:
        return exc
