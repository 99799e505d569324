"""Node device XML (virNodeDeviceGetXMLDesc, capability 'pci') -> PCI devices.

SR-IOV roles, as libvirt shows them:

- a PF has ``<capability type='virt_functions'>`` listing its enabled VFs'
  addresses and/or a ``maxCount`` > 0 (SR-IOV capable, maybe 0 VFs enabled);
  an empty ``virt_functions`` element (no addresses, no maxCount) is not a PF;
- a VF has ``<capability type='phys_function'>`` with its PF's address.

Addresses are written the Nova way, ``dddd:bb:ss.f`` in lower-case hex;
vendor and product ids as 4 hex digits without ``0x``.
"""

import dataclasses

from agent.discovery import xmlutil
from agent.exceptions import HostXmlError

SOURCE = 'node device'
TYPE_PF = 'type-PF'
TYPE_VF = 'type-VF'
TYPE_PCI = 'type-PCI'


@dataclasses.dataclass(frozen=True, slots=True)
class NodePciDevice:
    """One PCI function on the host."""

    name: str
    address: str
    vendor_id: str
    product_id: str
    device_class: str | None = None
    driver: str | None = None
    numa_node: int | None = None
    iommu_group: int | None = None
    iommu_members: tuple = ()        # addresses in the same IOMMU group, itself included
    vf_addresses: tuple = ()         # a PF's enabled VFs
    max_vfs: int = 0                 # a PF's maxCount (0 if unreported)
    sriov_capable: bool = False
    pf_address: str | None = None    # a VF's parent

    @property
    def type(self):
        if self.pf_address:
            return TYPE_VF
        return TYPE_PF if self.sriov_capable else TYPE_PCI


def format_address(domain, bus, slot, function):
    """``0000:05:10.7`` from integer parts."""
    return f"{domain:04x}:{bus:02x}:{slot:02x}.{function:x}"


def parse_pci_device(xml_text):
    """Parse one node device; HostXmlError if it has no 'pci' capability."""
    root = xmlutil.parse(xml_text, SOURCE)
    name = xmlutil.text(root, 'name', '?')
    where = f"{SOURCE} {name}"
    pci = _capability(root, 'pci')
    if pci is None:
        raise HostXmlError(where, "no <capability type='pci'>")
    address = format_address(*(xmlutil.integer(xmlutil.text(pci, part), where, part)
                               for part in ('domain', 'bus', 'slot', 'function')))
    vendor = pci.find('vendor')
    product = pci.find('product')
    if vendor is None or product is None:
        raise HostXmlError(where, 'no <vendor id> or <product id>')
    virt_functions = _capability(pci, 'virt_functions')
    phys_function = _capability(pci, 'phys_function')
    vf_addresses = _addresses(virt_functions, where)
    max_vfs = 0
    if virt_functions is not None:
        max_vfs = xmlutil.integer(virt_functions.get('maxCount', '0'), where, 'maxCount')
    pf_addresses = _addresses(phys_function, where)
    group = pci.find('iommuGroup')
    numa = pci.find('numa')
    return NodePciDevice(
        name=name, address=address,
        vendor_id=_hex_id(vendor.get('id'), where, 'vendor id'),
        product_id=_hex_id(product.get('id'), where, 'product id'),
        device_class=xmlutil.text(pci, 'class'), driver=xmlutil.text(root, 'driver/name'),
        numa_node=None if numa is None else _numa_node(numa.get('node'), where),
        iommu_group=None if group is None else xmlutil.integer(group.get('number'), where,
                                                               'iommuGroup number'),
        iommu_members=_addresses(group, where),
        vf_addresses=vf_addresses, max_vfs=max_vfs,
        sriov_capable=bool(vf_addresses) or max_vfs > 0,
        pf_address=pf_addresses[0] if pf_addresses else None,
    )


def _capability(element, cap_type):
    for child in element.findall('capability'):
        if child.get('type') == cap_type:
            return child
    return None


def _addresses(element, where):
    if element is None:
        return ()
    return tuple(format_address(*(xmlutil.integer(address.get(part), where, part, 16)
                                  for part in ('domain', 'bus', 'slot', 'function')))
                 for address in element.findall('address'))


def _hex_id(value, where, what):
    number = xmlutil.integer(value, where, what, 16)
    return f"{number:04x}"


def _numa_node(value, where):
    node = xmlutil.integer(value, where, 'numa node')
    return None if node < 0 else node   # -1: the firmware did not say
