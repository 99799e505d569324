"""Read a JSON object whose one big array is taken item by item.

A fleet file of 100,000 hosts is about 400 MiB of text and 2 GiB once
parsed whole; read this way, only one host's JSON is held at a time.  The
text is read in chunks and each item decoded by the standard library's own
decoder (``raw_decode``), so values are exactly what ``json.loads`` gives.

The reader is strict and simple: anything it does not expect (a syntax
error, a top level that is not an object) raises ``NotStreamable``, and the
caller reads the file whole instead, which reports the error precisely.
"""

import json
import re

CHUNK_CHARS = 1 << 20
_BLANK = re.compile(r'[ \t\n\r]*')


class NotStreamable(ValueError):
    """The text is not a JSON object this reader can take apart (read it whole)."""


class _Reader:
    def __init__(self, handle):
        self.handle = handle
        self.buffer, self.pos, self.eof = '', 0, False
        self.decoder = json.JSONDecoder()

    def _more(self, at_least=CHUNK_CHARS):
        """Read at least ``at_least`` more characters; False at the end of the file."""
        chunk = self.handle.read(at_least)
        if not chunk:
            self.eof = True
            return False
        self.buffer = self.buffer[self.pos:] + chunk   # what was consumed is dropped
        self.pos = 0
        return True

    def peek(self):
        """The next non-blank character, '' at the end of the file."""
        while True:
            self.pos = _BLANK.match(self.buffer, self.pos).end()
            if self.pos < len(self.buffer):
                return self.buffer[self.pos]
            if not self._more():
                return ''

    def take(self, char):
        if self.peek() != char:
            raise NotStreamable(f"expected {char!r}")
        self.pos += 1

    def value(self):
        """The next whole JSON value."""
        self.peek()
        while True:
            try:
                value, end = self.decoder.raw_decode(self.buffer, self.pos)
            except (json.JSONDecodeError, RecursionError, ValueError):
                # Cut off by the chunk, or bad: read more (as much again, so a long
                # value costs linear time) and try again; at the end it is bad.
                unread = len(self.buffer) - self.pos
                if self.eof or not self._more(max(CHUNK_CHARS, unread)):
                    raise NotStreamable('not valid JSON')
                continue
            # A number or literal may go on past the buffer: decided only by what follows.
            if end < len(self.buffer) or self.eof or not self._more():
                self.pos = end
                return value


def read_object(handle, array_key, on_item):
    """The top-level object of ``handle``, its ``array_key`` array given to ``on_item``.

    ``on_item(index, value)`` is called for each item of the array; the returned
    dict holds every other member, and ``array_key`` mapped to True when it was
    an array (streamed), or to its value when it was not.  Raises NotStreamable
    (or UnicodeDecodeError) when the text must be read whole instead.
    """
    reader, members = _Reader(handle), {}
    reader.take('{')
    if reader.peek() == '}':
        reader.pos += 1
    else:
        while True:
            if reader.peek() != '"':
                raise NotStreamable('expected a member name')
            key = reader.value()
            reader.take(':')
            if key == array_key and key in members:
                raise NotStreamable(f"{key!r} given twice")   # the last one counts
            if key == array_key and reader.peek() == '[':
                _read_array(reader, on_item)
                members[key] = True
            else:
                members[key] = reader.value()
            if reader.peek() == '}':
                reader.pos += 1
                break
            reader.take(',')
    if reader.peek() != '':
        raise NotStreamable('text after the object')
    return members


def _read_array(reader, on_item):
    reader.take('[')
    if reader.peek() == ']':
        reader.pos += 1
        return
    index = 0
    while True:
        on_item(index, reader.value())
        index += 1
        if reader.peek() == ']':
            reader.pos += 1
            return
        reader.take(',')
