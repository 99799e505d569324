"""``[pci] device_spec``: which PCI devices guests may use, Nova's whitelist format.

Each entry is a JSON object (or a JSON list of objects) with any of
``vendor_id``, ``product_id`` (4 hex digits or ``*``), ``address`` and the
tag ``physical_network``.  ``address`` is either a string
``[[[[domain]:]bus]:][slot][.[function]]`` where a part that is empty or
``*`` matches anything, or an object of regular expressions
``{"domain": .., "bus": .., "slot": .., "function": ..}`` matched against the
whole hex part (a missing key matches anything).

An address that matches a VF's parent PF also matches the VF (Nova's rule),
so one entry with the PF address whitelists the PF and all its VFs; vendor
and product ids are still compared with the device itself.  Other keys are
tags that kvmfleet does not use; ``devname`` is refused (name the address).
"""

import dataclasses
import json
import re

from agent.exceptions import InvalidConfig

_ADDRESS_PARTS = (('domain', 0xffff, 4), ('bus', 0xff, 2), ('slot', 0x1f, 2), ('function', 7, 1))
_ID = re.compile(r'^(\*|[0-9a-fA-F]{1,4})$')


@dataclasses.dataclass(frozen=True, slots=True)
class DeviceSpec:
    """One whitelist entry; None in a field means 'any'."""

    vendor_id: str | None = None
    product_id: str | None = None
    address_patterns: tuple = ()   # per part (domain, bus, slot, function): compiled regex
    physical_network: str | None = None

    def matches(self, device):
        """True if this entry whitelists ``device`` (a nodedev.NodePciDevice)."""
        if self.vendor_id and device.vendor_id != self.vendor_id:
            return False
        if self.product_id and device.product_id != self.product_id:
            return False
        if not self.address_patterns:
            return True
        if self._address_matches(device.address):
            return True
        return bool(device.pf_address) and self._address_matches(device.pf_address)

    def _address_matches(self, address):
        domain, bus, rest = address.split(':')
        slot, function = rest.split('.')
        return all(pattern.fullmatch(value) for pattern, value
                   in zip(self.address_patterns, (domain, bus, slot, function)))


def parse_device_specs(entries):
    """DeviceSpecs from the option's strings; InvalidConfig names the entry."""
    specs = []
    for index, text in enumerate(entries or ()):
        option = f"[pci] device_spec[{index}]"
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidConfig(option, f"not JSON: {exc.msg} at column {exc.colno}")
        items = document if isinstance(document, list) else [document]
        for item in items:
            specs.append(_parse_one(item, option))
    return tuple(specs)


def _parse_one(item, option):
    if not isinstance(item, dict):
        raise InvalidConfig(option, 'expected a JSON object')
    if 'devname' in item:
        raise InvalidConfig(option, 'devname is not supported; give the PCI address')
    physnet = item.get('physical_network')
    if physnet is not None and (not isinstance(physnet, str) or not physnet):
        raise InvalidConfig(option, 'physical_network must be a non-empty string')
    address = item.get('address')
    return DeviceSpec(vendor_id=_device_id(item.get('vendor_id'), option, 'vendor_id'),
                      product_id=_device_id(item.get('product_id'), option, 'product_id'),
                      address_patterns=_address(address, option) if address else (),
                      physical_network=physnet)


def _device_id(value, option, key):
    if value is None:
        return None
    if not isinstance(value, str) or not _ID.match(value.strip()):
        raise InvalidConfig(option, f"{key} {value!r} is not up to 4 hex digits or '*'")
    value = value.strip().lower()
    return None if value == '*' else f"{int(value, 16):04x}"


def _address(address, option):
    if isinstance(address, dict):
        return _regex_address(address, option)
    if not isinstance(address, str):
        raise InvalidConfig(option, 'address is a string or an object of regexes')
    head, _, function = address.strip().partition('.')
    parts = head.split(':')
    if len(parts) > 3:
        raise InvalidConfig(option, f"address {address!r}: more than domain:bus:slot")
    values = [''] * (3 - len(parts)) + parts + [function]
    return tuple(_glob_part(value, name, maximum, width, option, address)
                 for value, (name, maximum, width) in zip(values, _ADDRESS_PARTS))


def _glob_part(value, name, maximum, width, option, address):
    value = value.strip()
    if value in ('', '*'):
        return re.compile(r'[0-9a-f]+')
    try:
        number = int(value, 16)
    except ValueError:
        raise InvalidConfig(option, f"address {address!r}: {name} {value!r} is not hex or '*'")
    if number > maximum:
        raise InvalidConfig(option, f"address {address!r}: {name} {value!r} is above "
                                    f"{maximum:x}")
    return re.compile(re.escape(f"{number:0{width}x}"))


def _regex_address(address, option):
    unknown = sorted(set(address) - {name for name, _, _ in _ADDRESS_PARTS})
    if unknown:
        raise InvalidConfig(option, f"address keys {unknown} are not domain/bus/slot/function")
    patterns = []
    for name, _, _ in _ADDRESS_PARTS:
        try:
            patterns.append(re.compile(str(address.get(name, '.*')), re.IGNORECASE))
        except re.error as exc:
            raise InvalidConfig(option, f"address {name} regex: {exc}")
    return tuple(patterns)
