"""PCI aliases in Nova's ``[pci] alias`` JSON form.

Each alias is a JSON object (or an already-decoded dict) such as
``{"name": "nic-vf", "vendor_id": "8086", "product_id": "10ca",
"device_type": "type-VF", "numa_policy": "preferred"}``.  ``name`` is
required; kvmfleet also requires ``vendor_id`` and ``product_id`` (4 hex
digits) and refuses two aliases with the same name (see docs/flavors.md).
"""

import dataclasses
import json
import re

from wire import fields
from wire import request_spec as rs
from wire.errors import Collector
from wire.files import TOO_MANY_DIGITS
from wire.limits import DEFAULT

DEVICE_TYPES = ('type-PCI', 'type-PF', 'type-VF')
NUMA_POLICIES = (rs.PCI_REQUIRED, rs.PCI_LEGACY, rs.PCI_PREFERRED, rs.PCI_SOCKET)
_HEX_ID = re.compile(r'^[0-9a-fA-F]{4}$')
MAX_NAME = DEFAULT.max_string_length
_KNOWN_KEYS = frozenset({'name', 'vendor_id', 'product_id', 'device_type', 'numa_policy',
                         'capability_type'})


@dataclasses.dataclass(frozen=True, slots=True)
class Alias:
    """A named kind of PCI device that flavors request by ``pci_passthrough:alias``."""

    name: str
    vendor_id: str
    product_id: str
    device_type: str | None = None       # None: any of PCI / PF / VF
    numa_policy: str = rs.PCI_LEGACY

    def to_dict(self):
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


def parse_aliases(values, field='pci.alias'):
    """``{name: Alias}`` from Nova alias JSON strings (or dicts).

    Raises wire.errors.InvalidInput listing every broken rule.
    """
    errors = Collector()
    aliases = {}
    for index, value in enumerate(values or ()):
        alias = _parse_one(value, f'{field}[{index}]', errors)
        if alias is None:
            continue
        if alias.name in aliases:
            errors.add(f'{field}[{index}].name',
                       f'{alias.name!r} is defined twice; each alias name must be unique')
            continue
        aliases[alias.name] = alias
    errors.raise_if_any()
    return aliases


def _decode(value, field, errors):
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            errors.add(field, f'not valid JSON: {exc.msg} at column {exc.colno}')
            return None
        except RecursionError:
            errors.add(field, 'not valid JSON: nested too deeply')
            return None
        except ValueError:     # an integer of over 4300 digits
            errors.add(field, f'not valid JSON: {TOO_MANY_DIGITS}')
            return None
    if not isinstance(value, dict):
        errors.add(field, 'an alias is a JSON object')
        return None
    return value


def _parse_one(value, field, errors):
    spec = _decode(value, field, errors)
    if spec is None:
        return None
    before = len(errors.errors)
    for key in sorted(set(spec) - _KNOWN_KEYS):
        errors.add(f'{field}.{key}', 'is not an alias field (name, vendor_id, product_id, '
                                     'device_type, numa_policy)')
    name = spec.get('name')
    if not isinstance(name, str) or not name.strip():
        errors.add(f'{field}.name', 'is required: a non-empty string')
    elif fields.text_problem(name, MAX_NAME):
        errors.add(f'{field}.name', fields.text_problem(name, MAX_NAME))
    for key in ('vendor_id', 'product_id'):
        if not isinstance(spec.get(key), str) or not _HEX_ID.match(spec[key]):
            errors.add(f'{field}.{key}', f'{fields.shown(spec.get(key))} is not a 4-digit hex '
                                         'PCI id')
    _check_enum(spec, 'device_type', DEVICE_TYPES, field, errors)
    _check_enum(spec, 'numa_policy', NUMA_POLICIES, field, errors)
    if spec.get('capability_type', 'pci') != 'pci':
        errors.add(f'{field}.capability_type',
                   f"{fields.shown(spec['capability_type'])} is not 'pci'")
    if len(errors.errors) > before:
        return None
    return Alias(name.strip(), spec['vendor_id'].lower(), spec['product_id'].lower(),
                 spec.get('device_type'), spec.get('numa_policy') or rs.PCI_LEGACY)


def _check_enum(spec, key, allowed, field, errors):
    value = spec.get(key)
    if value is not None and value not in allowed:
        errors.add(f'{field}.{key}', f'{fields.shown(value)} is not one of {", ".join(allowed)}')
