"""The make-room planner (scheduler.make_room): fragmented fleets where one or two live
migrations make room, where none within the bounds does, and every plan audited: the
moved instances and the request together never overrun a pool."""

import dataclasses
import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler import make_room
from scheduler.fitting import audit
from scheduler.make_room import Movable, RoomSettings
from tests.unit.scheduler.helpers import engine, fleet_of, host, request
from wire.request_spec import ServerGroup

BIG = request(8, 4096, 'big').dedicated().numa(1).build()        # a whole cell
# Guests over both cells (2 pCPUs, 1 pCPU in each): what fragments a fleet
SMALL = request(4, 2048, 'small').dedicated().numa(2).build()
TINY = request(2, 1024, 'tiny').dedicated().numa(2).build()


def hosts(count, cores=8):
    """Hosts of 2 cells x ``cores`` dedicated pCPUs (no siblings), 16 GiB per cell."""
    return [host(f"h{i}").cells(2, cores=cores).build() for i in range(count)]


class World:
    """A FleetView, its engine, and what each instance holds (for audits)."""

    def __init__(self, topologies, **settings):
        self.engine = engine(seed=1, **settings)
        self.fleet = fleet_of(*topologies)
        self.topologies = {t.name: t for t in topologies}
        self.held = {t.name: {} for t in topologies}
        self.movable = []

    def occupy(self, name, spec, uuid, movable=True, group=None):
        """Put an instance of ``spec`` on host ``name`` (the exact fit's choice)."""
        if group is not None:
            spec = dataclasses.replace(spec, server_group=group)
        state = self.fleet.state(name)
        assignment = self.engine.fit(state.topology, state.usage, spec, self.engine.policy,
                                     uuid)
        assert not isinstance(assignment, make_room.Assignment) or assignment.host == name
        self.fleet.apply(assignment, group.name if group else None)
        self.held[name][uuid] = assignment
        if movable:
            self.movable.append(Movable(uuid, assignment, spec))
        return assignment

    def plan(self, spec=BIG, count=1, **settings):
        return make_room.plan(self.engine, self.fleet, dataclasses.replace(spec, count=count),
                              [f"new-{i}" for i in range(count)], self.movable,
                              RoomSettings(**settings))

    def audited(self, room):
        """Overrun lines of every host once ``room``'s moves and request are applied."""
        held = {name: dict(items) for name, items in self.held.items()}
        for move in room.moves:
            del held[move.source][move.instance]
            held[move.destination][move.instance] = move.assignment
        for assignment in room.assignments:
            held[assignment.host][assignment.instance] = assignment
        return [f"{name}: {line}" for name, items in held.items()
                for line in audit.overruns(self.topologies[name], self.engine.policy,
                                           list(items.values()))]


def fragmented(per_host, count=3):
    """``count`` hosts, each holding ``per_host`` (spec, how many) instances."""
    world = World(hosts(count))
    for h in range(count):
        for spec, many in per_host:
            for i in range(many):
                world.occupy(f"h{h}", spec, f"vm-{h}-{spec.name}-{i}")
    return world


CASES = [
    # (what, instances per cell, bounds, moves expected or None)
    ('one guest of 2 pCPUs per cell', [(SMALL, 1)], {}, 1),
    ('two guests of 1 pCPU per cell', [(TINY, 2)], {}, 2),
    ('a guest of 2 and one of 1 pCPU per cell', [(SMALL, 1), (TINY, 1)], {}, 2),
    ('two guests, one move allowed', [(TINY, 2)], {'max_moves': 1}, None),
    ('three guests, two moves allowed', [(TINY, 3)], {'max_moves': 2}, None),
    ('three guests, three moves allowed', [(TINY, 3)], {'max_moves': 3}, 3),
]


@pytest.mark.parametrize('what,per_host,bounds,expected', CASES, ids=[c[0] for c in CASES])
def test_the_fewest_moves_that_make_room_or_none_within_the_bounds(what, per_host, bounds,
                                                                 expected):
    world = fragmented(per_host)
    assert not world.engine.place(BIG, world.fleet, ['new-0']).placed   # fragmented
    room = world.plan(**bounds)
    if expected is None:
        assert not room.found and room.moves == () and room.assignments == ()
        assert f"at most {bounds['max_moves']} live migration" in room.reason
        return
    assert room.found, room.reason
    assert len(room.moves) == expected
    [placed] = room.assignments
    assert placed.host == room.target
    assert {m.source for m in room.moves} == {room.target}
    assert all(m.destination != room.target for m in room.moves)
    assert all(m.assignment.host == m.destination and m.assignment.instance == m.instance
               for m in room.moves)
    assert world.audited(room) == []


def test_a_request_that_fits_needs_no_move():
    world = World(hosts(2))
    room = world.plan()
    assert room.found and room.moves == () and len(room.assignments) == 1
    assert room.sets_tried == 0


def test_instances_that_cannot_move_live_are_never_moved():
    world = fragmented([(SMALL, 1)])
    world.movable = [m for m in world.movable if m.host != 'h0']
    room = world.plan()
    assert room.found and room.target != 'h0'
    assert world.audited(room) == []
    world.movable = []
    room = world.plan()
    assert not room.found and room.hosts_searched == 0


def test_a_full_fleet_has_no_plan():
    """Every pCPU held: a moved guest has nowhere to go."""
    world = World(hosts(2, cores=4))
    for h in range(2):
        for i in range(4):
            world.occupy(f"h{h}", TINY, f"vm-{h}-{i}")
    room = world.plan(request(2, 1024, 'two').dedicated().numa(1).build())
    assert not room.found, room.moves
    assert room.hosts_searched == 2 and room.sets_tried > 0


def test_moved_instances_keep_their_server_group_policy():
    """The smallest set first would move an anti-affinity member, but the only host
    with room for it holds another member: the plan moves the plain guest instead."""
    group = ServerGroup('spread', 'anti-affinity')
    world = World(hosts(2))
    world.occupy('h0', SMALL, 'member-0', group=group)
    world.occupy('h0', SMALL, 'plain-0')
    world.occupy('h1', SMALL, 'member-1', group=group)
    world.occupy('h1', SMALL, 'plain-1')
    world.occupy('h1', SMALL, 'plain-1b')
    room = world.plan(request(12, 6144, 'two-cells').dedicated().numa(2).build())
    assert room.found, room.reason
    assert [(m.instance, m.destination) for m in room.moves] == [('plain-0', 'h1')]
    assert world.audited(room) == []


def test_a_multi_instance_request_fits_whole_or_has_no_plan():
    world = fragmented([(SMALL, 1)], count=2)
    room = world.plan(count=2)
    assert room.found, room.reason
    assert len(room.assignments) == 2
    assert world.audited(room) == []


def test_the_search_is_bounded_by_max_hosts():
    world = fragmented([(TINY, 2)], count=6)
    room = world.plan(max_moves=2, max_hosts=2)
    assert room.found and len(room.moves) == 2
    assert room.hosts_searched == 2
    assert 1 <= room.sets_tried <= 2 * (2 + 1)     # 2 hosts x (2 sets of 1 + 1 set of 2)


def test_hosts_that_need_more_moves_than_allowed_are_not_searched():
    """Counting pCPUs alone shows three guests must go: with two allowed no set is
    even fitted."""
    world = fragmented([(TINY, 3)])
    room = world.plan(max_moves=2)
    assert not room.found and room.hosts_searched == 0 and room.sets_tried == 0


def test_the_plan_is_a_plain_dict_for_the_bus():
    world = fragmented([(SMALL, 1)])
    answer = world.plan().to_dict()
    assert answer['found'] is True and len(answer['moves']) == 1
    move = answer['moves'][0]
    assert set(move) == {'instance', 'source', 'destination', 'assignment'}
    assert move['assignment']['host'] == move['destination']
    assert answer['assignments'][0]['host'] == answer['target']


@pytest.mark.parametrize('have,gains,need,fewest', [
    (4, [1, 3, 2], 4, 0), (1, [1, 3, 2], 4, 1), (0, [1, 3, 2], 5, 2), (0, [1, 1], 3, 3),
    (2, [], 3, 1),
])
def test_fewest_gains_to_reach_a_need(have, gains, need, fewest):
    assert make_room._fewest(have, gains, need) == fewest


@pytest.mark.parametrize('per_host', [[(TINY, 2)], [(SMALL, 1), (TINY, 1)], [(TINY, 3)]])
def test_the_pcpu_count_never_rules_out_a_set_the_exact_fit_takes(per_host):
    """PcpuRoom is a necessary condition: every set after which the request fits the
    host (filters and exact fit) passes it."""
    world = fragmented(per_host, count=2)
    search = make_room._Search(world.engine, world.fleet, BIG, ['new-0'])
    by_host = make_room._by_host(world.movable, world.fleet)
    fitted = 0
    for name, items in by_host.items():
        candidates = make_room.candidates_of(items)
        state = world.fleet.state(name)
        for count in range(len(candidates) + 1):
            for chosen in itertools.combinations(candidates, count):
                if search._emptied(state, chosen) is not None:
                    fitted += 1
                    assert search.pcpus.may_fit(state, chosen), chosen
                    assert search.pcpus.fewest_moves(state, candidates) <= count
    assert fitted > 0


ONE = request(1, 512, 'one').dedicated().numa(1).build()
TWO = request(2, 1024, 'two').dedicated().numa(1).build()
GUESTS = (ONE, TWO, TINY, SMALL)
BIG_ONES = (BIG, request(6, 3072, 'six').dedicated().numa(1).build(),
            request(12, 6144, 'twelve').dedicated().numa(2).build())


@settings(max_examples=40, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(loads=st.lists(st.lists(st.sampled_from(range(len(GUESTS))), min_size=3, max_size=6),
                      min_size=3, max_size=3),
       big=st.sampled_from(range(len(BIG_ONES))), max_moves=st.integers(1, 3))
def test_a_plan_never_holds_a_resource_twice(loads, big, max_moves):
    """Random loads of 3 to 6 guests per host (about 4 in 10 need moves to take the big
    request, 3 in 10 have no plan): every plan found is audited."""
    world = World(hosts(3))
    for h, load in enumerate(loads):
        for i, shape in enumerate(load):
            state = world.fleet.state(f"h{h}")
            if isinstance(world.engine.fit(state.topology, state.usage, GUESTS[shape],
                                           world.engine.policy, 'probe'),
                          make_room.Assignment):
                world.occupy(f"h{h}", GUESTS[shape], f"vm-{h}-{i}")
    room = world.plan(BIG_ONES[big], max_moves=max_moves)
    if not room.found:
        return
    assert world.audited(room) == []
    assert len(room.moves) <= max_moves
    assert len({m.instance for m in room.moves}) == len(room.moves)
    assert all(m.source == room.target != m.destination for m in room.moves)
