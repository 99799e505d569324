"""Equal immutable values held once: the parts alike hosts have in common.

Most hosts of a fleet share a topology: the same cells, CPU sets, sibling
sets, page pools and PCI devices.  Parsed one host at a time, each would hold
its own copy (a frozenset of 24 CPU ids costs about 1 KiB); ``shared`` hands
back the first equal value seen instead, so 100,000 alike hosts hold their
cells once.  Only values nobody mutates go through here (frozensets, tuples,
frozen dataclasses, and dicts that are never changed after parsing).

The table is bounded and simply emptied when full: sharing is an
optimisation, a value missed is held twice, never wrong.  Lookups are single
dict operations, safe under the GIL from several threads.
"""

TABLE_LIMIT = 65536
_table = {}


def shared(value, key=None):
    """``value``, or the value first seen under the same key (equal by construction).

    ``key`` defaults to ``(type, value)`` for hashable values, and for a
    frozenset to its items in iteration order: equal sets can iterate in
    different orders, and a shared one must behave exactly as the one it
    replaces.  A value with unhashable parts (a dict field) is passed with a
    key that determines it, order included.
    """
    if key is None:
        key = (frozenset, tuple(value)) if type(value) is frozenset else (type(value), value)
    found = _table.get(key)
    if found is not None:
        return found
    if len(_table) >= TABLE_LIMIT:
        _table.clear()
    _table[key] = value
    return value


def shared_tuple(items):
    """A tuple of already-shared ``items``, itself shared (keyed by the items' identity).

    Identity is a sound key here: the table entry holds the items, so no other
    object can take their ids while the entry lives.
    """
    items = tuple(items)
    return shared(items, (tuple, *map(id, items)))


def size():
    """How many values the table holds (for tests and benchmarks)."""
    return len(_table)
