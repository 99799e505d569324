"""The agent's verify and the scheduler's fit agree on generated hosts with IOMMU groups.

Whatever the fit assigns (on a host where earlier assignments are held),
verify accepts and the quick reject did not refuse; and for every device the
fit's "free for a new instance" (PF/VF exclusivity and IOMMU group) is
verify's verdict on that device alone.
"""

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from agent.verify import verify
from scheduler.fitting.facts import facts_of
from scheduler.fitting.fit import fit
from scheduler.fitting.pci import device_free
from scheduler.fitting.policy import FitPolicy
from scheduler.fitting.reasons import Rejection
from scheduler.fitting.summary import HostSummary, RequestNeeds
from scheduler.fitting.usage import HostUsage
from tests.unit.scheduler.fitting.strategies import hosts, requests
from wire.assignment import Assignment, PciAssignment

HOST_OWNED = ('0000:ff:00.0', '0000:ff:00.1')


@st.composite
def grouped_hosts(draw):
    """A generated host whose devices share IOMMU groups, some with host-owned members."""
    topology = draw(hosts())
    devices = []
    for device in topology.pci_devices:
        group = draw(st.one_of(st.none(), st.integers(0, 3)))
        members = ()
        if group is not None and draw(st.integers(0, 3)) == 0:
            members = (device.address, HOST_OWNED[group % 2])
        devices.append(dataclasses.replace(device, iommu_group=group,
                                           iommu_group_members=members))
    return dataclasses.replace(topology, pci_devices=tuple(devices))


def _free_pages(topology, usage):
    return {cell.id: {size: count - usage.pages_used(cell.id, size)
                      for size, count in cell.pages.items()} for cell in topology.cells}


@settings(max_examples=150, deadline=None)
@given(grouped_hosts(), st.lists(requests(), min_size=1, max_size=6))
def test_what_the_fit_assigns_verify_accepts(topology, specs):
    usage, held = HostUsage(), []
    for index, spec in enumerate(specs):
        result = fit(topology, usage, spec, FitPolicy(), f"vm-{index}")
        if isinstance(result, Rejection):
            continue
        assert verify(topology, _free_pages(topology, usage), held, result) == []
        # the quick reject, counting IOMMU-blocked devices apart, never refuses a fit
        assert RequestNeeds.of(spec).quick_reject(HostSummary.of(topology, usage)) is None
        usage, held = usage.consume(result), held + [result]


@settings(max_examples=150, deadline=None)
@given(grouped_hosts(), st.data())
def test_fit_and_verify_agree_on_each_device(topology, data):
    held = []
    usage = HostUsage()
    for index, device in enumerate(topology.pci_devices):
        if data.draw(st.booleans()):
            one = _holding(device, f"held-{index}", topology.name)
            if not verify(topology, {}, held, one):
                held.append(one)
                usage = usage.consume(one)
    facts = facts_of(topology)
    for device in topology.pci_devices:
        alone = _holding(device, 'new', topology.name)
        verdict = verify(topology, {}, held, alone)
        assert device_free(facts, usage.pci_used, device) == (
            not [v for v in verdict if v.reason != 'PCI_DEVICE_NOT_WHITELISTED']
            and _pf_vf_free(device, usage, topology)), (device, verdict)


def _holding(device, instance, host):
    return Assignment(host=host, instance=instance, vcpus=1, memory_mb=256, pci_devices=(
        PciAssignment(device.address, device.numa_node, 'alias:x', None, device.iommu_group),))


def _pf_vf_free(device, usage, topology):
    """PF/VF exclusivity is the fit's own rule (verify leaves it to the scheduler)."""
    used = usage.pci_used
    if device.type == 'type-VF':
        return device.parent not in used
    vfs = {d.address for d in topology.pci_devices if d.parent == device.address}
    return not (vfs & used)
