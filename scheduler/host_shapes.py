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

    def put(self, state):
        """Record ``state`` (a new host, or a host whose usage or topology changed)."""
        name = state.name
        known = self._topologies.get(name)
        if known is None or known[0] is not state.topology:
            number = self._numbers.setdefault(topology_key(state.topology), len(self._numbers))
            known = self._topologies[name] = (state.topology, number)
        shape = (known[1], frozen(state.usage))
        old = self._shape_of.get(name)
        if old == shape:
            return
        if old is not None:
            self._discard(name, old)
        self._shape_of[name] = shape
        self._groups.setdefault(shape, set()).add(name)

    def remove(self, name):
        old = self._shape_of.pop(name, None)
        self._topologies.pop(name, None)
        if old is not None:
            self._discard(name, old)

    def _discard(self, name, shape):
        names = self._groups[shape]
        names.discard(name)
        if not names:
            del self._groups[shape]

    def shape_of(self, name):
        return self._shape_of[name]

    def groups(self):
        """{shape: set of host names} (do not modify)."""
        return self._groups
