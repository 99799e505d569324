"""docs/flavors.md's table of every key says what scheduler/specs/namespaces.py does."""

import re

import pytest

from scheduler.specs import namespaces
from tests.conftest import REPO_ROOT

TABLE_ROW = re.compile(r'^\| (`[^|]*`) \| (placement|guest|refused)[^|]*\|$')


def documented():
    """{key: kind} from the 'Every key at a glance' tables."""
    text = (REPO_ROOT / 'docs' / 'flavors.md').read_text()
    section = text.split('## Every key at a glance', 1)[1].split('\n## ', 1)[0]
    kinds = {}
    for line in section.splitlines():
        row = TABLE_ROW.match(line)
        if row:
            for key in re.findall(r'`([^`]+)`', row.group(1)):
                kinds[key] = row.group(2)
    return kinds


@pytest.mark.parametrize('keys, kind', [
    (namespaces.PLACEMENT_KEYS, 'placement'),
    (namespaces.GUEST_HARDWARE_KEYS, 'guest'),
    (namespaces.UNSUPPORTED_KEYS, 'refused'),
    (namespaces.UNSUPPORTED_IMAGE_PROPERTIES, 'refused'),
])
def test_every_key_is_in_the_table_with_its_kind(keys, kind):
    table = documented()
    assert {key: table.get(key) for key in keys} == {key: kind for key in keys}
