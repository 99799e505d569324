"""Explanations: counts per reason across hosts and the nearest misses."""

import json

from scheduler.engine.explain import Explanation, Miss
from scheduler.engine.fleet import FleetView
from scheduler.specs import parse_request
from tests.unit.scheduler.helpers import engine, host, replace, request, two_socket

ONE_G = 1048576


def _fleet():
    return FleetView([
        host('host-0041').cells(2, cores=4, shared_cores=2).pages({ONE_G: 4}).build(),
        host('host-0042').cells(2, cores=4, shared_cores=2).pages({ONE_G: 2}).build(),
        host('tiny').cells(1, cores=1, shared_cores=1, memory_mb=512).build(),
        two_socket('off', enabled=False),
        two_socket('gpu-less', traits=frozenset({'X'})),
    ])


HUGE = request(2, 6144).numa(1).pages(ONE_G).build()


def test_failed_placement_counts_reasons_and_names_nearest_misses():
    placement = engine().place(HUGE, _fleet(), ['vm'])
    assert not placement.placed
    explanation = placement.explanation
    assert explanation.hosts == 5 and explanation.fits == 0
    assert explanation.reasons['HOST_DISABLED'] == 1
    assert explanation.reasons['NUMA_CELL_NO_FREE_PAGES'] == 2
    assert sum(explanation.reasons.values()) == 5
    texts = [miss.text for miss in explanation.nearest]
    assert texts[0] == 'host-0041 cell 0: 4 free 1G pages, needs 6'
    assert texts[1] == 'host-0042 cell 0: 2 free 1G pages, needs 6'
    assert all(miss.reason != 'HOST_DISABLED' for miss in explanation.nearest)


def test_explanation_is_json_serialisable_and_readable():
    explanation = engine().place(HUGE, _fleet(), ['vm']).explanation
    data = json.loads(json.dumps(explanation.to_dict()))
    assert data['hosts'] == 5
    assert list(data['reasons'])[0] == 'NUMA_CELL_NO_FREE_PAGES'   # most common first
    assert data['nearest'][0]['host'] == 'host-0041'
    assert data['nearest'][0]['shortfall'] == 2
    lines = explanation.lines()
    assert lines[0].startswith('no valid host among 5: 2 NUMA_CELL_NO_FREE_PAGES')
    assert lines[1] == 'nearest: host-0041 cell 0: 4 free 1G pages, needs 6'


def test_filter_rejections_are_counted_but_never_nearest():
    fleet = FleetView([two_socket('a', enabled=False), two_socket('b', enabled=False)])
    explanation = engine().explain(request().build(), fleet)
    assert explanation.reasons == {'HOST_DISABLED': 2}
    assert explanation.nearest == [] and explanation.dominant_reason == 'HOST_DISABLED'


def test_dry_run_counts_hosts_that_would_fit():
    explanation = engine().explain(request(2, 1024).build(), _fleet())
    assert explanation.fits == 3
    assert explanation.reasons == {'HOST_DISABLED': 1, 'HOST_VCPUS': 1}
    assert explanation.nearest[0].text == 'tiny: 1 shared pCPUs, guest has 2 floating vCPUs'


def test_a_floating_vcpu_shortfall_states_the_room_of_shared_pcpus_times_the_ratio():
    fleet = FleetView([host('small').cells(1, cores=2, shared_cores=1).build()])
    explanation = engine(cpu_allocation_ratio=2.0).explain(request(1, 256).build(), fleet)
    assert explanation.fits == 1
    for name in ('a', 'b'):
        fleet.apply(engine().place(request(1, 256).build(), fleet, [name]).assignments[0])
    explanation = engine(cpu_allocation_ratio=2.0).explain(request(1, 256).build(), fleet)
    assert explanation.nearest[0].text == (
        'small: room for 0 more floating vCPUs (1 shared pCPUs x 2.0), needs 1')


def test_static_reasons_keep_their_names():
    spec = replace(request().build(), required_traits=frozenset({'GPU'}))
    explanation = engine().explain(spec, _fleet())
    assert explanation.reasons == {'HOST_DISABLED': 1, 'TRAIT_MISSING': 4}


def test_miss_text_without_a_cell_uses_a_colon():
    miss = Miss('h', 'HOST_RAM', '100 MiB of small-page memory free, needs 200', None, 100)
    assert miss.text == 'h: 100 MiB of small-page memory free, needs 200'
    assert Explanation(0, {}, []).summary_line() == 'no valid host among 0: no hosts'


def test_nic_bandwidth_goes_only_to_hosts_that_can_shape_and_explain_names_the_trait():
    """quota:vif_* requires CUSTOM_KVMFLEET_VIF_BANDWIDTH (wire.guest_quota): a simulated
    host that reports it takes the guest; without one, explain names the missing trait."""
    spec = parse_request({'name': 'shaped', 'vcpus': 1, 'memory_mb': 512,
                          'extra_specs': {'quota:vif_inbound_average': '1024'}}, {})
    shaper = two_socket('shaper', traits=frozenset({'CUSTOM_KVMFLEET_VIF_BANDWIDTH'}))
    plain = two_socket('plain')
    placement = engine().place(spec, FleetView([plain, shaper]), ['vm'])
    assert [a.host for a in placement.assignments] == ['shaper']
    explanation = engine().explain(spec, FleetView([plain]))
    assert explanation.reasons == {'TRAIT_MISSING': 1}
    assert explanation.lines()[-1] == ('TRAIT_MISSING: plain: host lacks required trait(s) '
                                       'CUSTOM_KVMFLEET_VIF_BANDWIDTH')
