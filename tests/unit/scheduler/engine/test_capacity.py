"""capacity(): how many more of each shape fit, and what runs out first.

The fast capacity (alike hosts filled once) must give exactly the answers of
the reference (every host filled on its own, tests/unit/scheduler/
capacity_reference.py) on generated and random fleets.
"""

import dataclasses
import json
import pathlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.generate_fleet import generate
from scheduler.engine import capacity as capacity_module
from scheduler.engine.capacity import capacity, host_classes, shape_key
from scheduler.engine.fleet import FleetView
from scheduler.filters.base import BaseFilter
from scheduler.fitting.reasons import Rejection
from scheduler.specs import parse_request
from tests.unit.scheduler.engine.capacity_reference import reference_capacity
from tests.unit.scheduler.fitting.strategies import hosts, requests
from tests.unit.scheduler.helpers import engine, host, replace, request
from wire.assignment import Assignment
from wire.errors import InvalidInput
from wire.files import parse_fleet
from wire.request_spec import ServerGroup
from wire.topology import Instance

SAMPLE_REQUESTS = pathlib.Path(__file__).resolve().parents[4] / 'samples' / 'requests.json'
ENGINE = engine()

PINNED2 = request(2, 1024, 'pinned').numa(1).dedicated().build()


def _fleet():
    # 2 hosts x 1 cell x 8 dedicated pCPUs, 16 GiB: 4 pinned 2-vCPU guests each.
    return FleetView([host(f'h{i}').cells(1, cores=8, shared_cores=1).build()
                      for i in range(2)])


def test_counts_per_shape_and_the_resource_that_runs_out():
    fleet = _fleet()
    results = capacity([PINNED2, request(1, 8192, 'fat').build()], fleet, engine())
    pinned, fat = results
    assert (pinned.request, pinned.fits, pinned.runs_out) == ('pinned', 8,
                                                              'NUMA_CELL_NO_FREE_PCPUS')
    assert pinned.stops == {'NUMA_CELL_NO_FREE_PCPUS': 2}
    assert 'needs 2' in pinned.example
    assert (fat.fits, fat.runs_out) == (4, 'HOST_RAM')


def test_the_fleet_is_not_changed():
    fleet = _fleet()
    before = [s for s in fleet.hosts()]
    capacity([PINNED2], fleet, engine())
    assert fleet.hosts() == before and all(a is b for a, b in zip(fleet.hosts(), before))


def test_same_shape_counted_once_whatever_its_name_or_count():
    twin = replace(PINNED2, name='twin', count=3)
    assert shape_key(twin) == shape_key(PINNED2)
    assert len(capacity([PINNED2, twin], _fleet(), engine())) == 1


def test_anti_affinity_allows_one_per_host():
    spec = replace(PINNED2, server_group=ServerGroup('g', 'anti-affinity'))
    result, = capacity([spec], _fleet(), engine())
    assert result.fits == 2 and result.runs_out == 'SERVER_GROUP_ANTI_AFFINITY'


def test_affinity_counts_one_host():
    spec = replace(PINNED2, server_group=ServerGroup('g', 'affinity'))
    result, = capacity([spec], _fleet(), engine())
    assert result.fits == 4


def test_disabled_hosts_count_nothing():
    fleet = _fleet()
    fleet.update_host(replace(fleet.state('h1').topology, enabled=False))
    result, = capacity([PINNED2], fleet, engine())
    assert result.fits == 4
    assert result.stops == {'HOST_DISABLED': 1, 'NUMA_CELL_NO_FREE_PCPUS': 1}
    assert result.to_dict()['stops'] == result.stops


# -- the fast capacity against the reference (every host filled on its own) ------------

def _assert_same_as_reference(specs, fleet, engine_=None):
    engine_ = engine_ or engine()
    before = list(fleet.hosts())
    fast = capacity(specs, fleet, engine_)
    assert fast == reference_capacity(specs, fleet, engine_)
    assert all(a is b for a, b in zip(fleet.hosts(), before))
    return fast


def _generated(count=48, seed=3, templates=5, max_fill=6):
    """``count`` hosts cloned from ``templates`` partly filled models."""
    return parse_fleet(generate(count, seed, templates=templates, max_fill=max_fill))


def _member(topology, group, index, sample):
    """An instance of ``group`` already on ``topology``, holding what ``sample`` holds."""
    assignment = dataclasses.replace(sample, host=topology.name,
                                     instance=f'{topology.name}-{group}-{index}')
    return Instance(uuid=assignment.instance, name=assignment.instance,
                    assignment=assignment, server_group=group)


def _with_members(topologies, groups_every):
    """Some hosts run a small floating guest of a server group (in their instances)."""
    sample = Assignment(host='', instance='', vcpus=1, memory_mb=512)
    result = []
    for index, topology in enumerate(topologies):
        extra = tuple(_member(topology, group, index, sample)
                      for group, every in groups_every if index % every == 0)
        result.append(dataclasses.replace(topology, instances=topology.instances + extra))
    return result


def _varied(topologies):
    """Disabled, down, secure-boot, SEV and AVX-512 hosts among the generated ones."""
    changes = ({'enabled': False}, {'up': False}, {'secure_boot': True}, {'sev_slots': 2},
               {'traits': frozenset({'HW_CPU_X86_AVX512F'})}, {}, {})
    return [dataclasses.replace(t, **changes[i % len(changes)])
            for i, t in enumerate(topologies)]


def _fewer_vfs(topologies):
    """Every third host lacks its last VFs: hosts alike but for their PCI devices."""
    return [dataclasses.replace(t, pci_devices=t.pci_devices[:-3]) if i % 3 == 0 else t
            for i, t in enumerate(topologies)]


FLEETS = {
    'generated': lambda: FleetView(_generated()),
    'fuller': lambda: FleetView(_generated(max_fill=14, seed=5)),
    'one model': lambda: FleetView(_generated(templates=1, max_fill=0)),
    'varied': lambda: FleetView(_varied(_generated(seed=7))),
    'fewer VFs': lambda: FleetView(_fewer_vfs(_generated(seed=17))),
    'groups': lambda: FleetView(_with_members(_generated(seed=11),
                                              (('web', 3), ('db', 5), ('cache', 2)))),
}

PINNED = {'hw:cpu_policy': 'dedicated'}
RAW_SHAPES = (
    {'vcpus': 1, 'memory_mb': 1024},
    {'vcpus': 2, 'memory_mb': 4096, 'extra_specs': {'hw:mem_page_size': '2MB'}},
    {'vcpus': 4, 'memory_mb': 8192, 'extra_specs': dict(PINNED)},
    {'vcpus': 4, 'memory_mb': 8192, 'extra_specs': dict(
        PINNED, **{'hw:cpu_thread_policy': 'isolate', 'hw:emulator_threads_policy': 'isolate'})},
    {'vcpus': 8, 'memory_mb': 16384, 'extra_specs': dict(
        PINNED, **{'hw:numa_nodes': '2', 'hw:mem_page_size': '1GB'})},
    {'vcpus': 4, 'memory_mb': 8192, 'extra_specs': dict(
        PINNED, **{'hw:mem_page_size': 'large', 'hw:pci_numa_affinity_policy': 'required'}),
     'ports': [{'vnic_type': 'direct', 'physical_network': 'physnet2'}]},
    {'vcpus': 6, 'memory_mb': 8192, 'extra_specs': {
        'hw:cpu_policy': 'mixed', 'hw:cpu_dedicated_mask': '^0-1'}},
    {'vcpus': 2, 'memory_mb': 2048, 'extra_specs': {'hw:mem_encryption': 'true'},
     'image_properties': {'hw_firmware_type': 'uefi', 'hw_machine_type': 'q35'}},
    {'vcpus': 2, 'memory_mb': 2048, 'server_group': {'name': 'web', 'policy': 'anti-affinity'}},
    {'vcpus': 4, 'memory_mb': 8192, 'extra_specs': dict(PINNED),
     'server_group': {'name': 'new', 'policy': 'anti-affinity'}},
    {'vcpus': 2, 'memory_mb': 4096, 'server_group': {'name': 'db', 'policy': 'affinity'}},
    {'vcpus': 2, 'memory_mb': 4096, 'extra_specs': dict(PINNED),
     'server_group': {'name': 'fresh', 'policy': 'affinity'}},
    {'vcpus': 1, 'memory_mb': 512, 'server_group': {'name': 'cache', 'policy': 'affinity'},
     'extra_specs': {'trait:HW_CPU_X86_AVX512F': 'required'}},
)


def _specs():
    specs = [parse_request(dict(raw, name=f'shape-{i}')) for i, raw in enumerate(RAW_SHAPES)]
    for raw in json.loads(SAMPLE_REQUESTS.read_text())['requests']:
        try:
            specs.append(parse_request(raw))
        except InvalidInput:
            pass        # the samples hold one invalid request on purpose
    return specs


@pytest.mark.parametrize('name', sorted(FLEETS))
def test_same_answers_as_the_reference_on_generated_fleets(name):
    results = _assert_same_as_reference(_specs(), FLEETS[name]())
    assert sum(r.fits for r in results) > 0
    assert len({r.runs_out for r in results}) > 3


def test_same_answers_after_placements_applied_to_the_view():
    fleet, engine_ = FleetView(_generated(seed=13)), engine()
    for index, spec in enumerate(_specs()[:12]):
        group = spec.server_group.name if spec.server_group else None
        for assignment in engine_.place(spec, fleet, [f'p{index}']).assignments:
            fleet.apply(assignment, group)
    _assert_same_as_reference(_specs(), fleet, engine_)


GROUPS = st.sampled_from((None, ServerGroup('g', 'anti-affinity'), ServerGroup('g', 'affinity'),
                          ServerGroup('other', 'affinity'), ServerGroup('other', 'anti-affinity')))


@st.composite
def cloned_fleets(draw):
    """A few random host models, each cloned; the same guests (some of group ``g``)
    on every other clone of a model, the others maybe missing the last PCI device,
    so alike hosts and differing ones mix."""
    templates = draw(st.lists(hosts(), min_size=1, max_size=3))
    copies = draw(st.integers(1, 4))
    names = [[f'm{m}-c{c}' for c in range(copies)] for m in range(len(templates))]
    fleet = FleetView([_clone(t, name, c % 2 and draw(st.booleans()))
                       for t, row in zip(templates, names) for c, name in enumerate(row)])
    for template, row in zip(templates, names):
        single = FleetView([template])
        for index, spec in enumerate(draw(st.lists(requests(), max_size=3))):
            group = draw(st.sampled_from((None, 'g')))
            for assignment in ENGINE.place(spec, single, [f'old{index}']).assignments:
                single.apply(assignment, group)
                for name in row[::2]:
                    fleet.apply(dataclasses.replace(assignment, host=name), group)
    return fleet


def _clone(topology, name, fewer_devices):
    devices = topology.pci_devices[:-1] if fewer_devices else topology.pci_devices
    return dataclasses.replace(topology, name=name, pci_devices=devices)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cloned_fleets(), st.lists(st.tuples(requests(), GROUPS), min_size=1, max_size=3))
def test_same_answers_as_the_reference_on_random_fleets(fleet, drawn):
    specs = [dataclasses.replace(spec, name=f'r{i}', server_group=group)
             for i, (spec, group) in enumerate(drawn)]
    _assert_same_as_reference(specs, fleet, ENGINE)


def _count_fills(monkeypatch):
    calls = []
    original = capacity_module._Filler.fill

    def counting(self, state):
        calls.append(state.name)
        return original(self, state)
    monkeypatch.setattr(capacity_module._Filler, 'fill', counting)
    return calls


def test_alike_hosts_are_filled_once_per_shape(monkeypatch):
    fleet = FleetView([host(f'h{i}').cells(1, cores=8, shared_cores=1).build()
                       for i in range(20)])
    calls = _count_fills(monkeypatch)
    pinned, = capacity([PINNED2], fleet, engine())
    assert calls == ['h0'] and pinned.fits == 80
    assert pinned.example.startswith('h0: ')


def test_hosts_with_more_group_members_are_filled_apart(monkeypatch):
    spec = replace(PINNED2, server_group=ServerGroup('g', 'anti-affinity'))
    fleet = _fleet()
    fleet.apply(Assignment(host='h1', instance='old', vcpus=1, memory_mb=512), 'g')
    calls = _count_fills(monkeypatch)
    result, = capacity([spec], fleet, engine())
    assert calls == ['h0', 'h1'] and result.fits == 1


def test_a_fit_that_reads_more_than_the_class_fills_every_host(monkeypatch):
    picky = engine()
    exact = picky.fit

    def fit(topology, usage, spec, policy, instance):
        if topology.name == 'h1':
            return Rejection('PICKY', 'this fit refuses h1').on_host('h1')
        return exact(topology, usage, spec, policy, instance)
    picky.fit = fit
    calls = _count_fills(monkeypatch)
    result = _assert_same_as_reference([PINNED2], _fleet(), picky)[0]
    assert calls == ['h0', 'h1']
    assert (result.fits, result.stops) == (4, {'NUMA_CELL_NO_FREE_PCPUS': 1, 'PICKY': 1})


class _NameFilter(BaseFilter):
    """A dynamic filter reading the host name, which no class captures."""

    name = 'not_h1'

    def host_passes(self, host_state, spec):
        if host_state.name == 'h1':
            return self.reject(host_state, 'NOT_H1', 'h1 is kept free')
        return None


def test_a_filter_that_reads_more_than_the_class_fills_every_host(monkeypatch):
    picky = engine()
    picky.filters = picky.filters + (_NameFilter(picky.policy),)
    calls = _count_fills(monkeypatch)
    result = _assert_same_as_reference([PINNED2], _fleet(), picky)[0]
    assert calls == ['h0', 'h1']
    assert (result.fits, result.stops) == (4, {'NOT_H1': 1, 'NUMA_CELL_NO_FREE_PCPUS': 1})


def test_host_classes_ignore_names_and_instances_only():
    base = host('a').cells(2, cores=4, threads=2, shared_cores=1).pf('0000:10:00.0', vfs=2)
    topology = base.build()
    sample = Assignment(host='a', instance='x', vcpus=1, memory_mb=512)
    running = (_member(topology, 'g', 0, sample),)
    fleet = FleetView([
        topology,
        dataclasses.replace(topology, name='b'),                      # same class as a
        dataclasses.replace(topology, name='c', instances=running),   # more usage
        dataclasses.replace(topology, name='d', traits=frozenset({'X'})),
        dataclasses.replace(topology, name='e', instances=(
            dataclasses.replace(running[0], uuid='other', name='other'),)),   # as c
    ])
    classes = host_classes(fleet.hosts())
    assert classes[0] == classes[1] and classes[2] == classes[4]
    assert len({classes[0], classes[2], classes[3]}) == 3


class _Opaque:
    """Unhashable and unknown to the class key."""

    __hash__ = None


def test_a_host_with_an_unknown_unhashable_field_stands_alone():
    topology = host('a').cells(1).build()
    odd = dataclasses.replace(topology, aggregates=_Opaque())
    states = FleetView([odd, dataclasses.replace(odd, name='b'),
                        dataclasses.replace(topology, name='c'),
                        dataclasses.replace(topology, name='d')]).hosts()
    classes = host_classes(states)
    assert classes[0] != classes[1] and classes[2] == classes[3]
