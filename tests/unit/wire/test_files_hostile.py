"""Hostile fleet and request files: one clear FileFormatError each, at once."""

import time

import pytest

from wire.files import FileFormatError, load_document, parse_fleet

CASES = [
    ('f.json', '[' * 100000, 'f.json: nested too deeply'),
    ('f.json', '9' * 5000, 'f.json: a number has more than 4300 digits'),
    ('f.yaml', '[' * 100000, 'f.yaml: line 1 column 1001: exceeded maximum nesting depth'),
    ('f.yaml', '9' * 5000, "f.yaml: a value cannot be read: 'Exceeds the limit (4300 dig...gits() "
                           "to increase the limit'"),
    ('f.yaml', 'd: 2001-13-45', "f.yaml: a value cannot be read: 'month must be in 1..12'"),
    ('f.yaml', '!!int abc', "f.yaml: a value cannot be read: \"invalid literal for int() "
                            "with base 10: 'abc'\""),
]


@pytest.mark.parametrize('name, text, message', CASES)
def test_hostile_documents(tmp_path, name, text, message):
    path = tmp_path / name
    path.write_text(text, encoding='utf-8')
    started = time.perf_counter()
    with pytest.raises(FileFormatError) as caught:
        load_document(str(path))
    assert time.perf_counter() - started < 0.5
    assert str(caught.value) == f'{tmp_path}/{message}'


@pytest.mark.parametrize('document, message', [
    ({'version': 1, 'hosts': ['h']}, 'fleet: hosts[0]: expected an object {name, cells, ...}'),
    ({'version': [1] * 100000, 'hosts': []},
     'fleet: version: [1, 1, 1, 1, ...] is not supported (this kvmfleet reads version 1)'),
])
def test_hostile_fleet_documents(document, message):
    with pytest.raises(FileFormatError) as caught:
        parse_fleet(document)
    assert str(caught.value) == message
