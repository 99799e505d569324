"""What the domain builder needs from the host's domain capabilities.

Discovery parses domain capabilities for what the host *reports*; launching
an SEV guest also needs the C-bit position and the reduced physical address
bits, which only the domain capabilities XML carries.  The result is the
``host_features`` dict InstanceDriver takes.
"""

import xml.etree.ElementTree as ET

from agent.exceptions import HostXmlError

SOURCE = 'domain capabilities'


def features_from_domcaps(xml_text, secure_boot_available=None):
    """{'sev_cbitpos', 'sev_reduced_phys_bits', 'secure_boot_available'} from domcaps XML.

    SEV values are None when the host has no usable SEV.  ``secure_boot_available``
    given by the caller (discovery's verdict) wins over the loader's ``secure`` enum.
    """
    try:
        root = ET.fromstring(xml_text)
    except ET.ParseError as exc:
        raise HostXmlError(SOURCE, f"not XML: {exc}")
    features = {'sev_cbitpos': None, 'sev_reduced_phys_bits': None}
    sev = root.find('features/sev')
    if sev is not None and sev.get('supported') == 'yes':
        features['sev_cbitpos'] = _integer(sev, 'cbitpos')
        features['sev_reduced_phys_bits'] = _integer(sev, 'reducedPhysBits')
    if secure_boot_available is None:
        secure = root.findall("os/loader/enum[@name='secure']/value")
        secure_boot_available = any(v.text == 'yes' for v in secure)
    features['secure_boot_available'] = bool(secure_boot_available)
    return features


def _integer(element, tag):
    text = element.findtext(tag)
    if text is None:
        return None
    try:
        return int(text.strip())
    except ValueError:
        raise HostXmlError(SOURCE, f"<sev><{tag}> {text!r} is not an integer")
