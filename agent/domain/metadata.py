"""The kvmfleet block in a domain's <metadata>: enough to rebuild the agent's view.

The request spec and the assignment travel as JSON text inside elements of a
kvmfleet namespace; ElementTree escapes them, so hostile names and metadata
cannot break out of their element.  ``parse_metadata`` reads them back from
the domain XML libvirt returns.
"""

import json
import xml.etree.ElementTree as ET

from wire.assignment import Assignment
from wire.request_spec import RequestSpec

NAMESPACE = 'https://kvmfleet.dev/xmlns/instance/1.0'
PREFIX = 'kvmfleet'
METADATA_VERSION = '1'

ET.register_namespace(PREFIX, NAMESPACE)


class MetadataError(ValueError):
    """A domain's kvmfleet metadata is missing a part or does not parse."""


def _tag(name):
    return f"{{{NAMESPACE}}}{name}"


def instance_element(uuid, spec, assignment, flavor=None):
    """The <kvmfleet:instance> element for one instance."""
    root = ET.Element(_tag('instance'), {'version': METADATA_VERSION})
    ET.SubElement(root, _tag('uuid')).text = uuid
    ET.SubElement(root, _tag('name')).text = spec.name
    ET.SubElement(root, _tag('flavor')).text = flavor or ''
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
