"""A JSON fleet file read host by host gives what a whole read gives: hosts or the error."""

import json
import random
import tracemalloc

import pytest

from benchmarks.generate_fleet import generate
from wire import json_stream
from wire.files import FileFormatError, load_document, load_fleet, parse_fleet

FLEET = generate(6, seed=3, templates=3, max_fill=3)
GOOD = json.dumps(FLEET)
CHUNKS = (1, 2, 7, 64, json_stream.CHUNK_CHARS)


def outcome(read):
    try:
        return 'hosts', [host.to_dict() for host in read()]
    except FileFormatError as exc:
        return 'error', str(exc)


def both(tmp_path, text, name='fleet.json'):
    """(streamed outcome, whole-read outcome) of ``text`` as a fleet file."""
    path = tmp_path / name
    path.write_text(text, encoding='utf-8')
    return (outcome(lambda: load_fleet(str(path))),
            outcome(lambda: parse_fleet(load_document(str(path)), str(path))))


@pytest.mark.parametrize('chunk', CHUNKS)
@pytest.mark.parametrize('text', [GOOD, json.dumps(FLEET, indent=3),
                                  json.dumps(FLEET, separators=(',', ':')),
                                  json.dumps(dict(reversed(list(FLEET.items()))))])
def test_streamed_hosts_equal_a_whole_read(tmp_path, monkeypatch, chunk, text):
    monkeypatch.setattr(json_stream, 'CHUNK_CHARS', chunk)
    streamed, whole = both(tmp_path, text)
    assert streamed == whole and streamed[0] == 'hosts' and len(streamed[1]) == 6


HOST = json.dumps(FLEET['hosts'][0])
BAD = [
    '{"version": 2, "hosts": []}',
    '{"hosts": [], "version": 2}',
    '{"hosts": [' + HOST + '], "version": 2}',
    '{"version": 1}',
    '{"version": 1, "hosts": {}}',
    '{"version": 1, "hosts": ["h"]}',
    '{"version": 1, "hosts": [' + HOST + ', ' + HOST + ']}',
    '{"version": 1, "hosts": [' + HOST + '], "hosts": []}',
    '{"version": 1, "hosts": [' + HOST + ']} x',
    '{"version": 1, "hosts": [' + HOST + ',]}',
    '{"version": 1 "hosts": []}',
    '{"version": 1, "hosts": [' + HOST[:-40] + ']}',
    '{"version": 1, "hosts": [' + '[' * 5000 + ']}',
    '{"version": 1, "hosts": [], "x": ' + '9' * 5000 + '}',
    '[{"version": 1}]',
    '{}',
    '',
    '\ufeff' + GOOD,
    '{"version": 1.0, "hosts": []}',
    '{"version": 1, "hosts": [{"name": "a\\u0041", "cells": [{"id": 0, "memory_mb": 1}]}]}',
]


@pytest.mark.parametrize('chunk', (1, 5, json_stream.CHUNK_CHARS))
@pytest.mark.parametrize('text', BAD)
def test_every_error_reads_as_a_whole_read_would_say_it(tmp_path, monkeypatch, chunk, text):
    monkeypatch.setattr(json_stream, 'CHUNK_CHARS', chunk)
    streamed, whole = both(tmp_path, text)
    assert streamed == whole


def test_damaged_files_give_what_a_whole_read_gives(tmp_path, monkeypatch):
    """Random one-character damage anywhere in a small fleet file."""
    monkeypatch.setattr(json_stream, 'CHUNK_CHARS', 3)
    rng, text = random.Random(7), json.dumps({'version': 1, 'hosts': FLEET['hosts'][:2]})
    kinds = set()
    for _ in range(150):
        where = rng.randrange(len(text))
        damaged = rng.choice([text[:where] + text[where + 1:],
                              text[:where] + rng.choice('{}[],:"x1 ') + text[where:]])
        streamed, whole = both(tmp_path, damaged)
        assert streamed == whole, damaged
        kinds.add(streamed[0])
    assert kinds == {'hosts', 'error'}


def test_a_yaml_fleet_is_still_read(tmp_path):
    streamed, whole = both(tmp_path, GOOD, name='fleet.yaml')    # JSON is YAML
    assert streamed == whole and streamed[0] == 'hosts'


def test_the_document_is_never_held_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(json_stream, 'CHUNK_CHARS', 1 << 16)   # well below the file's size
    path = tmp_path / 'fleet.json'
    path.write_text(json.dumps(generate(1000, seed=1, templates=3, max_fill=2)))

    def peak(read):
        tracemalloc.start()
        try:
            read()
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    whole = peak(lambda: parse_fleet(load_document(str(path)), str(path)))
    streamed = peak(lambda: load_fleet(str(path)))
    assert streamed * 3 < whole, (streamed, whole)
