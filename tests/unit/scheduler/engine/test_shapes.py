"""Alike hosts judged once: the same placements and explanations as judging every host.

The reference (tests/unit/scheduler/engine/explain_reference.py) walks every host and
explains a failure by judging every host, as the engine did before shapes.
"""

import dataclasses

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.engine import EngineSettings
from scheduler.engine.fleet import FleetView
from scheduler.engine.shapes import WALK_SHAPES_AFTER
from scheduler.specs import parse_request
from tests.unit.scheduler.engine.explain_reference import reference_engine
from tests.unit.scheduler.engine.test_capacity import FLEETS, GROUPS, _specs, cloned_fleets
from tests.unit.scheduler.fitting.strategies import requests
from tests.unit.scheduler.helpers import engine, host

ONE_G = 1048576
IMPOSSIBLE = (
    {'vcpus': 8, 'memory_mb': 40960, 'extra_specs': {'hw:cpu_policy': 'dedicated',
                                                     'hw:mem_page_size': '1GB'}},
    {'vcpus': 64, 'memory_mb': 1024},
    {'vcpus': 4, 'memory_mb': 4096, 'count': 40, 'min_count': 30,
     'extra_specs': {'hw:cpu_policy': 'dedicated', 'hw:cpu_thread_policy': 'isolate'}},
    {'vcpus': 2, 'memory_mb': 2048, 'count': 5,
     'server_group': {'name': 'web', 'policy': 'affinity'}},
)


def _engines(walk_after=0):
    # one seed: the same salt orders ties in both walks, the same draws pick among
    # the best-weighed
    fast, slow = engine(seed=11), reference_engine(EngineSettings(seed=11))
    fast.walk_shapes_after = walk_after       # judge shapes from the first host on
    return fast, slow


def _assert_same(spec, fleet, fast, slow):
    ids = [f'{spec.name}-{k}' for k in range(spec.count)]
    got, want = fast.place(spec, fleet, ids), slow.place(spec, fleet, ids)
    assert got.assignments == want.assignments and got.alternates == want.alternates
    if want.explanation is not None:
        assert got.explanation.to_dict() == want.explanation.to_dict()
    assert fast.explain(spec, fleet).to_dict() == slow.explain(spec, fleet).to_dict()
    return got


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cloned_fleets(), st.lists(st.tuples(requests(), GROUPS, st.integers(1, 3),
                                           st.integers(1, 3)), min_size=1, max_size=2))
def test_same_placements_and_explanations_on_random_fleets(fleet, drawn):
    fast, slow = _engines()
    for index, (spec, group, count, minimum) in enumerate(drawn):
        spec = dataclasses.replace(spec, name=f'r{index}', server_group=group, count=count,
                                   min_count=min(minimum, count))
        placement = _assert_same(spec, fleet, fast, slow)
        for assignment in placement.assignments:     # the fleet fills as it goes
            fleet.apply(assignment, group.name if group else None)


def test_same_on_generated_fleets_placed_and_impossible_requests():
    specs = _specs() + [parse_request(dict(raw, name=f'never-{i}'))
                        for i, raw in enumerate(IMPOSSIBLE)]
    failed = 0
    for name in ('fuller', 'varied', 'groups'):
        fleet = FLEETS[name]()
        fast, slow = _engines(walk_after=WALK_SHAPES_AFTER if name == 'groups' else 0)
        for spec in specs:
            placement = _assert_same(spec, fleet, fast, slow)
            failed += not placement.placed
            group = spec.server_group.name if spec.server_group else None
            for assignment in placement.assignments:
                fleet.apply(assignment, group)
    assert failed >= 3 * len(IMPOSSIBLE)


def test_alike_hosts_get_one_exact_fit_when_nothing_fits():
    # 40 alike hosts pass every precheck, but no cell holds 4 whole free cores.
    fleet = FleetView([host(f'h{i:02d}').cells(2, cores=3, threads=2, shared_cores=1).build()
                       for i in range(40)])
    spec = parse_request({'name': 'iso', 'vcpus': 4, 'memory_mb': 1024, 'extra_specs': {
        'hw:cpu_policy': 'dedicated', 'hw:cpu_thread_policy': 'isolate'}})
    fast, fitted = engine(), []
    exact = fast.fit

    def counting(topology, *args):
        fitted.append(topology.name)
        return exact(topology, *args)
    fast.fit = counting
    fast.follows_shape = lambda spec: True     # the counting wrapper reads nothing more
    placement = fast.place(spec, fleet, ['vm'])
    assert not placement.placed
    assert placement.explanation.reasons == {'NUMA_CELL_NO_FREE_CORES': 40}
    assert len(fitted) <= WALK_SHAPES_AFTER + 1
    assert [miss.host for miss in placement.explanation.nearest] == ['h00', 'h01', 'h02']


def test_a_failed_multi_create_says_how_many_fit_and_its_min_count():
    fleet = FleetView([host('a').cells(1, cores=4, shared_cores=1).build()])
    spec = parse_request({'name': 'web', 'vcpus': 2, 'memory_mb': 1024, 'count': 5,
                          'min_count': 3, 'extra_specs': {'hw:cpu_policy': 'dedicated'}})
    explanation = engine().place(spec, fleet, [f'web-{k}' for k in range(5)]).explanation
    assert (explanation.instance_index, explanation.count, explanation.min_count) == (2, 5, 3)
    assert explanation.summary_line() == (
        '2 of 5 instances fit, min_count 3; instance 3: no valid host among 1: '
        '1 NUMA_CELL_NO_FREE_PCPUS')
    assert explanation.to_dict()['count'] == 5
