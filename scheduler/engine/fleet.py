"""The scheduler's warm in-memory view of the fleet.

Per host it keeps the topology, the usage of what runs there and the fitting
core's HostSummary (free amounts per cell, and host totals the engine
compares in bulk).  A change to one host recomputes that host only.

The engine never mutates a FleetView: it places a multi-instance request on a
``ScratchFleet`` (``fleet.scratch()``), which overlays the hosts touched by
earlier instances of the same request (their usage and their pending server
group members) and leaves the real view alone.  The caller applies the
resulting assignments with ``FleetView.apply``.
"""

import dataclasses
import itertools

from scheduler.engine import fit as engine_fit
from scheduler.engine.shape_index import ShapeIndex
from scheduler.fitting.facts import facts_of
from scheduler.fitting.pci import device_free
from scheduler.fitting.usage import HostUsage
from wire.gcpause import gc_paused

_CHANGE_LOG_LIMIT = 100000
# What static filters may read of a topology: their verdicts are cached until one of
# these changes on some host (FleetView.static_generation).
STATIC_FIELDS = ('enabled', 'up', 'secure_boot', 'traits', 'aggregates', 'images')
_view_ids = itertools.count(1)
_NO_MEMBERS = {}   # shared by every host without group members: never changed in place


@dataclasses.dataclass(frozen=True, slots=True)
class HostState:
    """One host as filters and weighers see it; replaced whole on change.

    ``members`` counts the instances per server group name on the host,
    including pending ones placed earlier in the same request.
    """

    name: str
    topology: object
    usage: HostUsage
    summary: object            # the fitting core's HostSummary: per cell and host totals
    members: dict


def free_pci_devices(topology, usage):
    """Devices a new instance could get: PF/VF exclusivity and IOMMU groups honoured."""
    facts = facts_of(topology)
    return [d for d in topology.pci_devices if device_free(facts, usage.pci_used, d)]


def static_part(topology):
    """The STATIC_FIELDS values of ``topology``."""
    return tuple(getattr(topology, name) for name in STATIC_FIELDS)


def _members_of(topology):
    members = {}
    for instance in topology.instances:
        if instance.server_group:
            members[instance.server_group] = members.get(instance.server_group, 0) + 1
    return members or _NO_MEMBERS


def make_state(topology, usage, members):
    """A HostState with its summary computed."""
    return HostState(name=topology.name, topology=topology, usage=usage,
                     summary=engine_fit.summarize(topology, usage), members=members)


def consumed(state, assignment, server_group=None, sign=1):
    """(usage, members) of ``state`` after consuming (sign 1) or releasing (-1) ``assignment``."""
    usage = (state.usage.consume(assignment) if sign > 0
             else state.usage.release(assignment))
    members = state.members
    if server_group:
        members = dict(members)
        members[server_group] = max(0, members.get(server_group, 0) + sign)
    return usage, members


def with_assignment(state, assignment, server_group=None, sign=1):
    """``state`` after consuming (sign 1) or releasing (sign -1) ``assignment``."""
    return make_state(state.topology, *consumed(state, assignment, server_group, sign))


class FleetView:
    """Warm per-host state; ``apply``/``release``/``update_host`` touch one host."""

    def __init__(self, hosts=()):
        self.uid = next(_view_ids)   # identifies this view in the engine's caches
        self._states = {}
        self._groups = {}          # (host, instance) -> server group, for release
        self._list = None
        self._positions = {}
        self._group_hosts = {}     # server group -> names of hosts with members
        self.static_generation = 0  # bumps when a topology changes (not on usage)
        # Names of hosts whose usage changed, in order, so indexes over the view
        # (the engine's estimate order) catch up without rescanning every host.
        self.change_log = []
        self.change_epoch = 0       # bumps when the log is trimmed
        self._shapes = ShapeIndex()  # alike hosts grouped (scheduler/engine/shape_index.py)
        with gc_paused():   # thousands of acyclic states: nothing for the collector
            for topology in hosts:
                self._put(topology, HostUsage.of_host(topology), _members_of(topology))

    def __len__(self):
        return len(self._states)

    def __contains__(self, name):
        return name in self._states

    def hosts(self):
        """Every HostState, in a stable order (the order hosts were added)."""
        if self._list is None:
            self._list = list(self._states.values())
            self._positions = {state.name: i for i, state in enumerate(self._list)}
        return self._list

    def state(self, name):
        return self._states[name]

    def apply(self, assignment, server_group=None):
        """Record ``assignment`` as held (a decided, claimed placement)."""
        state = self._states[assignment.host]
        self._put(state.topology, *consumed(state, assignment, server_group, +1))
        if server_group:
            self._groups[(assignment.host, assignment.instance)] = server_group

    def release(self, assignment):
        """Give back what ``assignment`` holds (instance deleted or failed)."""
        state = self._states[assignment.host]
        group = self._groups.pop((assignment.host, assignment.instance), None)
        if group is None:
            group = _group_of_running(state.topology, assignment.instance)
        self._put(state.topology, *consumed(state, assignment, group, -1))

    def update_host(self, topology):
        """Replace a host's topology and instances (an agent report is authoritative).

        A report that changes only usage (instances, cells' contents) is cheap
        for the engine: the static generation moves only when something static
        filters read (STATIC_FIELDS) changes, or a host is added.
        """
        self._groups = {k: v for k, v in self._groups.items() if k[0] != topology.name}
        old = self._states.get(topology.name)
        self._put(topology, HostUsage.of_host(topology), _members_of(topology))
        if old is None or static_part(old.topology) != static_part(topology):
            self._list = None
            self.static_generation += 1

    def remove_host(self, name):
        state = self._states.pop(name, None)
        if state is not None:
            self._index_members(name, state.members, {})
        self._shapes.remove(name)
        self._groups = {k: v for k, v in self._groups.items() if k[0] != name}
        self._list = None
        self.static_generation += 1

    def shapes(self):
        """The ShapeIndex of this view, kept as hosts change."""
        return self._shapes

    def scratch(self):
        """A ScratchFleet over this view for one request's tentative placements."""
        return ScratchFleet(self)

    def group_hosts(self, group):
        """Names of the hosts holding members of server group ``group``."""
        return self._group_hosts.get(group, frozenset())

    def _put(self, topology, usage, members):
        """Hold a host's new state.  A host alike to one in the view (same shape:
        engine/shape_index.py) shares its usage and summary (but for the name)
        instead of computing equal ones: they depend on nothing else."""
        shape = self._shapes.shape(topology.name, topology, usage)
        twin = self._shapes.member(shape)
        if twin is None:
            state = make_state(topology, usage, members)
        else:
            alike = self._states[twin]
            shape = self._shapes.shape_of(twin)   # its key holds the shared usage
            summary = alike.summary
            if summary.name != topology.name:
                summary = dataclasses.replace(summary, name=topology.name)
            state = HostState(name=topology.name, topology=topology, usage=alike.usage,
                              summary=summary, members=members)
        self._replace(state, shape)

    def _replace(self, state, shape):
        old = self._states.get(state.name)
        if old is None or self._list is None:
            self._list = None
        else:   # same host, same place: patch the cached list instead of rebuilding it
            self._list[self._positions[state.name]] = state
            self._log_change(state.name)
        self._index_members(state.name, old.members if old else {}, state.members)
        self._states[state.name] = state
        self._shapes.put(state, shape)

    def _log_change(self, name):
        if len(self.change_log) >= _CHANGE_LOG_LIMIT:
            self.change_log = []
            self.change_epoch += 1
        self.change_log.append(name)

    def position(self, name):
        """Index of host ``name`` in ``hosts()`` (stable until a host is added or removed)."""
        self.hosts()
        return self._positions[name]

    def _index_members(self, name, old, new):
        if old is new:
            return
        for group in set(old) | set(new):
            hosts = self._group_hosts.setdefault(group, set())
            if new.get(group):
                hosts.add(name)
            else:
                hosts.discard(name)


def _group_of_running(topology, instance_id):
    for instance in topology.instances:
        if instance.uuid == instance_id or instance.assignment.instance == instance_id:
            return instance.server_group
    return None


class ScratchFleet:
    """Tentative placements of one request over a FleetView, never written back."""

    def __init__(self, fleet):
        self.fleet = fleet
        self.changed = {}          # host name -> HostState with pending placements

    @property
    def static_generation(self):
        return self.fleet.static_generation

    def state(self, name):
        return self.changed.get(name) or self.fleet.state(name)

    def current(self, state):
        """The up-to-date version of a HostState taken from the base view."""
        return self.changed.get(state.name, state)

    def group_hosts(self, group):
        """Hosts with members of ``group``, pending members included."""
        hosts = set(self.fleet.group_hosts(group))
        for name, state in self.changed.items():
            if state.members.get(group):
                hosts.add(name)
            else:
                hosts.discard(name)
        return hosts

    def hosts(self):
        if not self.changed:
            return self.fleet.hosts()
        return [self.changed.get(s.name, s) for s in self.fleet.hosts()]

    def consume(self, assignment, server_group=None):
        """Hold ``assignment`` in the scratch state (a pending group member too)."""
        state = self.state(assignment.host)
        self.changed[assignment.host] = with_assignment(state, assignment, server_group, +1)

    def copy(self):
        other = ScratchFleet(self.fleet)
        other.changed = dict(self.changed)
        return other


