"""Make room: the fewest live migrations after which a request fits (pure).

A big pinned request often finds no host although the fleet has the room in
total, scattered over cells.  ``plan`` searches, bounded, for a set of moves of
live-migratable instances (``Movable``) off one target host after which the
engine places the request:

1. the request placed as it is: it fits, no move is needed;
2. target hosts: hosts with movable instances, ranked by the fewest moves a
   count of pCPUs allows (``PcpuRoom``: the request's largest guest cell needs
   that many free pCPUs in one host cell), then by their shortfall of pinned
   pCPUs and memory; hosts that need more than ``max_moves`` moves by that
   count are left out.  In that order, at most ``4 * max_hosts`` are examined
   and kept when the request fits once all their candidates (their
   ``CANDIDATES_PER_HOST`` smallest instances) are gone (static and dynamic
   filters and the exact fit on that emptied state): ``max_hosts`` at most;
3. for k = 1 .. ``max_moves`` (fewest moves first), for each target host, each
   set of k of its candidates (smallest sets first): the pCPU count must allow
   it, the request must fit the target without them (the exact fit, then the
   filters), each of them must be placed by the engine on another host (the
   target excluded, earlier moves of the plan held), and then the engine must
   place the whole request.  The first such set is the plan.

Cost: at most ``max_hosts x sum(C(n, k), k = 1..max_moves)`` exact fits of
the request on a target (n <= CANDIDATES_PER_HOST: 298 fits per host at the
default max_moves 3), fewer as the pCPU count rules sets out; plus, for each
set that frees the target, k engine placements of the moved instances and one
of the request; ``4 x max_hosts`` fits to choose targets; and one pCPU count
per movable instance.  Every placement is the engine's own (``Engine.place``
on a ScratchFleet): its filters (server groups of the moved instances
included) and exact fit, so a plan never holds a resource twice.  The fleet
view is never changed.
"""

import dataclasses
import functools
import itertools
import time

from scheduler import claims, moves
from scheduler.engine.fleet import make_state
from wire.assignment import Assignment
from wire.gcpause import gc_paused

# Instances of one target host a plan may move: its smallest ones (bounds the search).
CANDIDATES_PER_HOST = 12
# Hosts examined to find the ``max_hosts`` targets, per target wanted.
EXAMINED_PER_TARGET = 4
# The instance id of the request's trial fits on a target
ROOM = 'make-room'


@dataclasses.dataclass(frozen=True)
class RoomSettings:
    """[scheduler] make_room_* options, passed in as values."""

    max_moves: int = 3
    max_hosts: int = 8


@dataclasses.dataclass(frozen=True)
class Movable:
    """An instance a plan may live-migrate: ACTIVE, idle, on a host that is up."""

    uuid: str
    assignment: Assignment          # what it holds on its host
    spec: object                    # its RequestSpec (one instance)

    @property
    def host(self):
        return self.assignment.host

    @property
    def group(self):
        return claims.group_of(self.spec)

    @property
    def size(self):
        return (self.spec.vcpus, self.spec.memory_mb, self.uuid)

    @functools.cached_property
    def pcpus_by_cell(self):
        """{host cell: pCPUs} it holds there, and under None its isolated emulator
        pCPUs, whose cell the assignment does not say (PcpuRoom counts them in every
        cell).  Computed once: a plan reads it for every movable instance."""
        held, in_cells, by_cell = self.assignment, set(), {}
        for cell in held.cells:
            in_cells.update(cell.pinning.values())
            in_cells.update(cell.reserved_pcpus)
            by_cell[cell.host_cell] = (by_cell.get(cell.host_cell, 0) + len(cell.pinning)
                                       + len(cell.reserved_pcpus))
        by_cell[None] = len(held.emulator_pcpus - held.shared_cpus - in_cells)
        return by_cell


@dataclasses.dataclass(frozen=True)
class Move:
    """One live migration of a plan: its exact assignment on the destination."""

    instance: str
    source: str
    destination: str
    assignment: Assignment

    def to_dict(self):
        return {'instance': self.instance, 'source': self.source,
                'destination': self.destination, 'assignment': self.assignment.to_dict()}


@dataclasses.dataclass
class RoomPlan:
    """The moves, in order, and the request's assignments once they are done;
    ``moves`` is empty when the request fits already, ``reason`` set when no plan
    was found within the bounds."""

    moves: tuple = ()
    assignments: tuple = ()
    target: str | None = None
    hosts_searched: int = 0
    sets_tried: int = 0
    seconds: float = 0.0
    reason: str | None = None

    @property
    def found(self):
        return self.reason is None

    def to_dict(self):
        return {'found': self.found, 'moves': [m.to_dict() for m in self.moves],
                'assignments': [a.to_dict() for a in self.assignments],
                'target': self.target, 'hosts_searched': self.hosts_searched,
                'sets_tried': self.sets_tried, 'seconds': round(self.seconds, 6),
                'reason': self.reason}


def live_movable(spec_dict):
    """Whether an instance of ``spec_dict`` (stored) may move live (the mover's rule)."""
    return moves.kind_for(spec_dict, True) == 'live'


def plan(engine, fleet, spec, instances, movable, settings=RoomSettings(), placement=None,
         clock=time.perf_counter):
    """The RoomPlan of ``spec`` (``instances``: the ids to place) over ``fleet`` (a
    FleetView), moving only ``movable`` (Movable) instances; see the module docstring.
    ``placement``: the engine's Placement of the request on ``fleet`` when the caller
    has it already (not placed again)."""
    with gc_paused():   # thousands of short-lived acyclic states and sets
        return _plan(engine, fleet, spec, list(instances), movable, settings, placement,
                     clock)


def _plan(engine, fleet, spec, instances, movable, settings, placement, clock):
    started = clock()
    if placement is None:
        placement = engine.place(spec, fleet, instances)
    if placement.placed:
        return RoomPlan(assignments=tuple(placement.assignments), seconds=clock() - started)
    search = _Search(engine, fleet, spec, instances)
    targets = search.targets(_by_host(movable, fleet), settings)
    for count in range(1, settings.max_moves + 1):
        for target, candidates in targets:
            for chosen in itertools.combinations(candidates, count):
                found = search.attempt(target, chosen)
                if found is not None:
                    return dataclasses.replace(found, hosts_searched=len(targets),
                                               sets_tried=search.tried,
                                               seconds=clock() - started)
    reason = (f"no set of at most {settings.max_moves} live migration(s) off "
              f"{len(targets)} candidate host(s) makes room")
    return RoomPlan(hosts_searched=len(targets), sets_tried=search.tried,
                    seconds=clock() - started, reason=reason)


def _by_host(movable, fleet):
    """host -> its movable instances (of the hosts in ``fleet``)."""
    by_host = {}
    for item in movable:
        by_host.setdefault(item.assignment.host, []).append(item)
    return {host: items for host, items in by_host.items() if host in fleet}


def candidates_of(items):
    """The instances of one host a plan may move: its smallest, CANDIDATES_PER_HOST at
    most, smallest first (so the first sets of each size are the smallest)."""
    return sorted(items, key=lambda m: m.size)[:CANDIDATES_PER_HOST]


def _shortfall(needs, summary):
    """How far a host is from taking the request (pinned pCPUs, then memory MB)."""
    return (max(0, needs.pinned_total - summary.free_pcpus)
            + max(0, needs.pinned_max_cell - summary.free_pcpus_max_cell),
            max(0, needs.memory_mb - summary.free_ram_mb))


class _Search:
    """One plan's search state: the request's context and checks, derived once."""

    def __init__(self, engine, fleet, spec, instances):
        self.engine, self.fleet, self.spec, self.instances = engine, fleet, spec, instances
        self.one = claims.single(spec)
        self.context = engine.context(self.one, fleet.scratch())
        self.checks = ([check for _, check in engine.static_checks(self.context)]
                       + engine.dynamic_checks(self.context))
        self.pcpus = PcpuRoom(self.context.needs)
        self.tried = 0

    def targets(self, by_host, settings):
        """(host, its candidates) where the request fits once they are gone: fewest
        moves by the pCPU count first, then closest; hosts that need more than
        ``max_moves`` moves for pCPUs alone are left out."""
        ranked = []
        for name, items in by_host.items():
            state = self.fleet.state(name)
            fewest = self.pcpus.fewest_moves(state, items)
            if fewest <= settings.max_moves:
                ranked.append((fewest, _shortfall(self.context.needs, state.summary), name))
        chosen = []
        for _, _, name in sorted(ranked)[:EXAMINED_PER_TARGET * settings.max_hosts]:
            state, candidates = self.fleet.state(name), candidates_of(by_host[name])
            if self._emptied(state, candidates) is not None:
                chosen.append((name, candidates))
                if len(chosen) == settings.max_hosts:
                    break
        return chosen

    def attempt(self, target, chosen):
        """The RoomPlan moving ``chosen`` off ``target``, or None."""
        state = self.fleet.state(target)
        if not self.pcpus.may_fit(state, chosen):
            return None
        self.tried += 1
        emptied = self._emptied(state, chosen)
        if emptied is None:
            return None
        scratch = self.fleet.scratch()
        scratch.changed[target] = dataclasses.replace(
            emptied, topology=dataclasses.replace(emptied.topology, enabled=False))
        planned = []
        for item in chosen:
            placement = self.engine.place(item.spec, scratch, [item.uuid])
            if not placement.placed:
                return None
            assignment = placement.assignments[0]
            scratch.consume(assignment, item.group)
            planned.append(Move(item.uuid, target, assignment.host, assignment))
        scratch.changed[target] = emptied
        placement = self.engine.place(self.spec, scratch, self.instances)
        if not placement.placed:
            return None
        return RoomPlan(moves=tuple(planned), assignments=tuple(placement.assignments),
                        target=target)

    def _emptied(self, state, chosen):
        """``state`` without what ``chosen`` hold (and their group memberships) when
        one instance of the request fits it then, else None.  The exact fit runs
        first, on the usage alone: most sets fail it, and it needs no HostState."""
        usage = state.usage
        for item in chosen:
            usage = usage.release(item.assignment)
        engine = self.engine
        if not isinstance(engine.fit(state.topology, usage, self.one, engine.policy, ROOM),
                          Assignment):
            return None
        members = dict(state.members)
        for item in chosen:
            if item.group:
                members[item.group] = max(0, members.get(item.group, 0) - 1)
        emptied = make_state(state.topology, usage, members)
        verdict = engine.verdict(emptied, self.checks, self.context, ROOM)
        return emptied if isinstance(verdict, Assignment) else None


class PcpuRoom:
    """Counting pCPUs only, whether a set of moves can free enough: a necessary
    condition (the request's largest guest cell needs that many free pCPUs in one host
    cell, the request that many on the host) that spares the exact fit most sets."""

    def __init__(self, needs):
        self.per_cell, self.total = needs.pinned_max_cell, needs.pinned_total

    @staticmethod
    def _in(freed, cell):
        return freed.get(cell, 0) + freed[None]

    @staticmethod
    def free(state):
        pinned = state.usage.pinned
        return {cell.id: len(cell.cpus - pinned) for cell in state.topology.cells}

    def may_fit(self, state, chosen):
        free = self.free(state)
        for item in chosen:
            freed = item.pcpus_by_cell
            for cell in free:
                free[cell] += self._in(freed, cell)
        return sum(free.values()) >= self.total and max(free.values(), default=0) >= \
            self.per_cell

    def fewest_moves(self, state, candidates):
        """A lower bound of the moves ``state`` needs (len(candidates) + 1: never)."""
        free = self.free(state)
        freed = [item.pcpus_by_cell for item in candidates]
        need = _fewest(sum(free.values()), [sum(f.values()) for f in freed], self.total)
        by_cell = min((_fewest(free[cell], [self._in(f, cell) for f in freed], self.per_cell)
                       for cell in free), default=0)
        return max(need, by_cell)


def _fewest(have, gains, need):
    """The fewest of ``gains`` that bring ``have`` to ``need`` (len(gains) + 1: never)."""
    for count, gain in enumerate([0] + sorted(gains, reverse=True)):
        have += gain
        if have >= need:
            return count
    return len(gains) + 1
