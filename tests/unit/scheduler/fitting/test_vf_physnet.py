"""One meaning of "free VFs per physnet": a VF's own physical_network tag (fitting.pci).

The fit matches a port's network against the VF's own tag; the quick-reject summary, the
fleet view (index and metrics) and the host views (``kvmfleet hosts``, dashboard) count
the same VFs.  They used to differ: the fleet view and host views let an untagged VF
inherit its PF's tag, so they showed free VFs on a network no port could get.
"""

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler import host_views
from scheduler.engine.fleet import FleetView
from scheduler.fitting.fit import fit
from scheduler.fitting.policy import FitPolicy
from scheduler.fitting.summary import HostSummary
from scheduler.fitting.usage import HostUsage
from tests.unit.scheduler.fitting.builders import host
from wire.assignment import Assignment
from wire.request_spec import PortRequest, RequestSpec
from wire.topology import PciDevice

NETWORKS = ('physnet1', 'physnet2')


def _port(network, name='p'):
    return RequestSpec(name=name, vcpus=1, memory_mb=64,
                       ports=(PortRequest('direct', network),))


def _untagged_vfs_of_a_tagged_pf():
    topology = host('a').cells(1, shared_cores=4).pf('0000:01:00.0', vfs=2).build()
    devices = tuple(dataclasses.replace(d, physical_network=None) if d.type == 'type-VF'
                    else d for d in topology.pci_devices)
    return dataclasses.replace(topology, pci_devices=devices)


def _views(topology):
    """Free VFs per physnet as the fleet view's summary (index, metrics) and the host
    views count them."""
    state = FleetView([topology]).state(topology.name)
    view = host_views.usage_view(state, up=True, enabled=True)
    shown = {net: v['free'] for net, v in view['vfs_by_physnet'].items() if net != '-'}
    return state.summary.free_vfs, shown


def _placeable_in_a_row(topology, network):
    usage, placed = HostUsage.of_host(topology), 0
    while True:
        result = fit(topology, usage, _port(network), FitPolicy(), f'vm{placed}')
        if not isinstance(result, Assignment):
            return placed
        usage, placed = usage.consume(result), placed + 1


def test_an_untagged_vf_of_a_tagged_pf_is_free_on_no_network():
    topology = _untagged_vfs_of_a_tagged_pf()
    summary, shown = _views(topology)
    assert summary == shown == {}
    view = host_views.usage_view(FleetView([topology]).state('a'), up=True, enabled=True)
    assert view['cells'][0]['vfs_by_physnet'] == {'-': {'total': 2, 'used': 0, 'free': 2}}
    assert _placeable_in_a_row(topology, 'physnet1') == 0    # what the count says
    assert _placeable_in_a_row(topology, None) == 2          # a port naming no network


@st.composite
def _sriov_hosts(draw):
    builder = host('h').cells(2, shared_cores=4)
    topology = builder.build()
    devices = []
    for pf in range(draw(st.integers(1, 3))):
        address, cell = f"0000:{pf + 1:02x}:00.0", draw(st.integers(0, 1))
        pf_net = draw(st.sampled_from(NETWORKS + (None,)))
        devices.append(PciDevice(address, '8086', '1572', 'type-PF', None, cell, pf_net))
        for vf in range(draw(st.integers(0, 3))):
            vf_net = draw(st.sampled_from(NETWORKS + (None,)))
            devices.append(PciDevice(f"{address}.v{vf}", '8086', '154c', 'type-VF', address,
                                     cell, vf_net))
    return dataclasses.replace(topology, pci_devices=tuple(devices))


@settings(max_examples=60, deadline=None)
@given(_sriov_hosts())
def test_every_view_counts_the_vfs_the_fit_gives_out(topology):
    summary, shown = _views(topology)
    assert summary == shown
    assert HostSummary.of(topology, HostUsage.of_host(topology)).free_vfs == summary
    for network in NETWORKS:
        assert _placeable_in_a_row(topology, network) == summary.get(network, 0)
