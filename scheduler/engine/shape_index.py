"""Host shapes: hosts that any request sees alike, grouped.

Two hosts have the same shape when their topologies are equal but for name
and instances (the instances are counted through the usage) and their
usages are equal.  The engine's own filters and exact fit then give both the
same verdict for any request, but for the host name, as long as neither
holds members of the request's server group (the member filters read those).
Capacity fills one host per shape, the engine's walk skips the hosts of a
shape once one of them was rejected, and a NoValidHost explanation judges
one host per shape.

``ShapeIndex`` keeps the groups as the FleetView changes (one host at a
time); ``state_key`` computes a key from scratch.
"""

import bisect
import dataclasses

# Topology fields a host's shape ignores: the name is only a label, and the
# instances are counted through the host's usage and members.
UNCLASSED_FIELDS = ('name', 'instances')
_FIELD_NAMES = {}
_ATOMS = frozenset((int, str, bool, float, bytes, type(None), frozenset))


def state_key(state):
    """The shape key of a HostState (equal keys: alike hosts)."""
    return (topology_key(state.topology), frozen(state.usage))


def topology_key(topology):
    return tuple(frozen(getattr(topology, name)) for name in _field_names(type(topology))
                 if name not in UNCLASSED_FIELDS)


def _field_names(cls):
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


def frozen(value):
    """A hashable value, equal only for equal values (dicts and dataclasses inside).

    Hashable values are their own keys (equality as they define it).
    """
    kind = type(value)
    if kind in _ATOMS:
        return value
    if kind is dict:
        return (dict, frozenset([(key, frozen(item)) for key, item in value.items()]))
    if kind is set:
        return (frozenset, frozenset(value))
    try:
        hash(value)     # hashable values (tuples of them too) are their own keys
        return value
    except TypeError:
        pass
    if kind is tuple or kind is list:
        return (kind, tuple([frozen(item) for item in value]))
    if dataclasses.is_dataclass(value):
        return (kind,) + tuple([frozen(getattr(value, name)) for name in _field_names(kind)])
    return object()     # unknown and unhashable: equal to nothing, the host stands alone


class _UsageKey:
    """A HostUsage as a dict key: hashed once through ``frozen``, compared as itself.

    Holds the usage (shared with the HostState), not a frozen copy of it.
    """

    __slots__ = ('usage', '_hash')

    def __init__(self, usage):
        self.usage, self._hash = usage, hash(frozen(usage))

    def __hash__(self):
        return self._hash

    def __eq__(self, other):
        return self._hash == other._hash and self.usage == other.usage


class ShapeIndex:
    """Names of hosts per shape, kept as hosts change one at a time.

    A topology's key is computed once per topology object and numbered, so a
    usage change (the common case) costs only the usage's key.
    """

    def __init__(self):
        self._groups = {}          # shape -> set of host names
        self._shape_of = {}        # host name -> shape
        self._topologies = {}      # host name -> (topology object, its number)
        self._numbers = {}         # topology key -> number
        self._peaks = {}           # shape -> most names its set held since it was built
        self._sorted = {}          # shape -> its names in order (for the first few names)

    def shape(self, name, topology, usage):
        """The shape host ``name`` has with ``topology`` under ``usage``."""
        known = self._topologies.get(name)
        if known is None or known[0] is not topology:
            number = self._numbers.setdefault(topology_key(topology), len(self._numbers))
            known = self._topologies[name] = (topology, number)
        return (known[1], _UsageKey(usage))

    def member(self, shape):
        """The name of some host of ``shape``, or None when no host has it."""
        names = self._groups.get(shape)
        return next(iter(names)) if names else None

    def put(self, state, shape=None):
        """Record ``state`` (a new host, or a host whose usage or topology changed);
        ``shape`` is its shape when the caller computed it already."""
        name = state.name
        if shape is None:
            shape = self.shape(name, state.topology, state.usage)
        old = self._shape_of.get(name)
        if old == shape:
            return
        if old is not None:
            self._discard(name, old)
        self._shape_of[name] = shape
        names = self._groups.setdefault(shape, set())
        names.add(name)
        bisect.insort(self._sorted.setdefault(shape, []), name)
        if len(names) > self._peaks.get(shape, 0):
            self._peaks[shape] = len(names)

    def remove(self, name):
        old = self._shape_of.pop(name, None)
        self._topologies.pop(name, None)
        if old is not None:
            self._discard(name, old)

    def _discard(self, name, shape):
        names, ordered = self._groups[shape], self._sorted[shape]
        names.discard(name)
        del ordered[bisect.bisect_left(ordered, name)]
        if not names:
            del self._groups[shape], self._peaks[shape], self._sorted[shape]
        elif len(names) * 4 < self._peaks[shape]:
            # A set never shrinks its table: iterating a big one emptied by usage changes
            # would scan its dead slots.  A copy is compact.
            self._groups[shape] = set(names)
            self._peaks[shape] = len(names)

    def shape_of(self, name):
        return self._shape_of[name]

    def first_names(self, shape, count, skip=frozenset()):
        """The ``count`` alphabetically first names of ``shape``, those in ``skip`` aside."""
        first = []
        for name in self._sorted[shape]:
            if name not in skip:
                first.append(name)
                if len(first) == count:
                    break
        return first

    def groups(self):
        """{shape: set of host names} (do not modify)."""
        return self._groups
