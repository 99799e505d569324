"""Request builders and error readers shared by the specs tests."""

import pytest

from scheduler.specs import parse_aliases, parse_request
from wire.errors import InvalidInput

ALIASES = parse_aliases([
    '{"name": "igb-vf", "vendor_id": "8086", "product_id": "10ca", '
    '"device_type": "type-VF", "numa_policy": "preferred"}',
    '{"name": "cx6-vf", "vendor_id": "15b3", "product_id": "101e", "device_type": "type-VF"}',
    '{"name": "gpu", "vendor_id": "10de", "product_id": "1db4", "device_type": "type-PCI", '
    '"numa_policy": "required"}',
])


def request(extra=None, image=None, vcpus=4, memory_mb=4096, **fields):
    """A raw request dict as it appears in a request file."""
    raw = {'name': 'vm', 'vcpus': vcpus, 'memory_mb': memory_mb, 'extra_specs': extra or {}}
    if image is not None:
        raw['image_properties'] = image
    raw.update(fields)
    return raw


def parse(extra=None, image=None, **fields):
    return parse_request(request(extra, image, **fields), ALIASES)


def errors_of(raw, aliases=ALIASES, flavors=None):
    """[(field, rule)] of the InvalidInput that ``raw`` must raise."""
    with pytest.raises(InvalidInput) as caught:
        parse_request(raw, aliases, flavors)
    return [(e.field, e.rule) for e in caught.value.errors]


def assert_error(raw, field, *words, aliases=ALIASES, flavors=None):
    """``raw`` is refused with an error on ``field`` whose rule mentions ``words``."""
    found = errors_of(raw, aliases, flavors)
    matching = [rule for f, rule in found if f == field]
    assert matching, f'no error on {field}: {found}'
    assert any(all(w in rule for w in words) for rule in matching), found
