"""Small helpers for reading libvirt XML with clear errors."""

import xml.etree.ElementTree as ElementTree

from agent.exceptions import HostXmlError


def parse(text, source):
    """The root element of ``text``; HostXmlError naming ``source`` if malformed."""
    try:
        return ElementTree.fromstring(text.strip())
    except (ElementTree.ParseError, AttributeError) as exc:
        raise HostXmlError(source, f"not well-formed XML: {exc}")


def integer(value, source, what, base=10):
    """``int(value, base)``, or HostXmlError naming what was expected."""
    try:
        return int(value.strip(), base)
    except (AttributeError, ValueError):
        raise HostXmlError(source, f"{what}: {value!r} is not an integer")


def optional_integer(value, source, what, base=10):
    return None if value is None else integer(value, source, what, base)


def text(element, path, default=None):
    """Stripped text of the first ``path`` under ``element``, or ``default``."""
    found = element.find(path)
    if found is None or found.text is None:
        return default
    return found.text.strip()


def serialize(element):
    """``element`` as an XML string (None stays None)."""
    return None if element is None else ElementTree.tostring(element, encoding='unicode')
