"""Flavors file: named flavors and the PCI aliases they refer to.

Format (JSON, or YAML for .yaml/.yml)::

    {"version": 1,
     "flavors": {"NAME": {"vcpus": 4, "ram": 8192, "extra_specs": {...}}, ...},
     "pci_aliases": [{"name": ..., "vendor_id": ..., "product_id": ...}, ...]}

``pci_aliases`` entries are Nova ``[pci] alias`` objects (or their JSON text).
Each flavor is checked on load with the same rules as a request, except the
rules that need an image (e.g. SEV needs a UEFI image): a flavor cannot know
its image.
"""

import dataclasses

from scheduler.specs.aliases import parse_aliases
from scheduler.specs.request import parse_request
from scheduler.specs.sources import IMAGE_FIELD
from wire.errors import InvalidInput, shown
from wire.files import SUPPORTED_VERSION, FileFormatError, load_document
from wire.limits import DEFAULT


@dataclasses.dataclass(frozen=True)
class FlavorCatalog:
    """``flavors`` {name: {vcpus, ram, extra_specs}} and ``aliases`` {name: Alias}."""

    flavors: dict
    aliases: dict


def load_flavors(path, limits=DEFAULT):
    """Read and check a flavors file; FileFormatError names the file and the place."""
    return parse_flavors(load_document(path), str(path), limits)


def parse_flavors(document, source='flavors', limits=DEFAULT):
    """A FlavorCatalog from a parsed flavors document, checked within ``limits``."""
    if not isinstance(document, dict):
        raise FileFormatError(f"{source}: expected an object with 'version' and 'flavors'")
    if document.get('version') != SUPPORTED_VERSION:
        raise FileFormatError(f"{source}: version: {shown(document.get('version'))} is not "
                              f"supported (this kvmfleet reads version {SUPPORTED_VERSION})")
    flavors = document.get('flavors')
    if not isinstance(flavors, dict):
        raise FileFormatError(f"{source}: flavors: is required and must be an object "
                              "{name: {vcpus, ram, extra_specs}}")
    raw_aliases = document.get('pci_aliases')
    raw_aliases = [] if raw_aliases is None else raw_aliases
    if not isinstance(raw_aliases, list):
        raise FileFormatError(f'{source}: pci_aliases: must be a list of alias objects')
    try:
        aliases = parse_aliases(raw_aliases, field='pci_aliases')
    except InvalidInput as exc:
        raise FileFormatError(f'{source}: {exc}')
    problems = []
    for name in flavors:
        problems.extend(flavor_problems(name, flavors, aliases, limits))
    if problems:
        raise FileFormatError(f"{source}: {'; '.join(problems)}")
    return FlavorCatalog(dict(flavors), aliases)


def flavor_problems(name, flavors, aliases, limits=DEFAULT):
    """Messages for the flavor ``name``'s own broken rules (image rules left out)."""
    try:
        parse_request({'name': str(name), 'flavor': name}, aliases, flavors, limits)
    except InvalidInput as exc:
        return [f'flavors.{name}: {error}' for error in exc.errors
                if not error.field.startswith(IMAGE_FIELD)]
    return []
