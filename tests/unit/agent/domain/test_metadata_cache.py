"""MetadataCache: the same domain XML is parsed once; a changed text is read again."""

from unittest import mock

from agent.domain import MetadataError, metadata
from agent.domain import domain_xml as build_xml
from agent.domain.metadata import NAMESPACE, MetadataCache
from tests.unit.agent.domain.builders import KERNEL_IMAGE, UUID, assignment, settings, spec_for

FOREIGN = '<domain><name>other</name></domain>'
BROKEN = (f'<domain><metadata><k:instance xmlns:k="{NAMESPACE}"><k:uuid>u</k:uuid>'
          '</k:instance></metadata></domain>')


def _ours(memory_mb=256):
    placed = assignment(vcpus=1, memory_mb=memory_mb)
    return build_xml(spec_for(placed), placed, KERNEL_IMAGE, settings()), placed


def test_unchanged_text_is_parsed_once():
    xml, placed = _ours()
    cache = MetadataCache()
    with mock.patch.object(metadata, '_parse_block', wraps=metadata._parse_block) as parse:
        first = cache.read('d1', xml)
        second = cache.read('d1', xml.encode().decode())   # an equal text, read again
    assert first == second and first[0] == UUID and first[2] == placed
    assert parse.call_count == 1


def test_changed_text_is_parsed_again():
    cache = MetadataCache()
    xml, _ = _ours(256)
    cache.read('d1', xml)
    changed, placed = _ours(512)
    assert cache.read('d1', changed)[2] == placed


def test_foreign_and_broken_domains():
    cache = MetadataCache()
    assert cache.read('other', FOREIGN) is None
    assert isinstance(cache.read('broken', BROKEN), MetadataError)


def test_retain_forgets_undefined_domains():
    cache = MetadataCache()
    xml, _ = _ours()
    cache.read('d1', xml)
    cache.retain({'d2'})
    with mock.patch.object(metadata, '_parse_block', wraps=metadata._parse_block) as parse:
        cache.read('d1', xml)
    assert parse.call_count == 1
