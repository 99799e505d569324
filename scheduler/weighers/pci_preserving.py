"""Keep PCI and SR-IOV hosts for guests that need them.

A guest that asks for no PCI device weighs a host lower the more free PCI
devices (VFs included) it has; a guest with PCI requests is indifferent.
"""

from scheduler.weighers.base import BaseWeigher


def wants_pci(spec):
    return bool(spec.pci_requests) or any(p.vnic_type == 'direct' for p in spec.ports)


class PciPreservingWeigher(BaseWeigher):
    name = 'pci_preserving'

    def applies(self, spec):
        return not wants_pci(spec)

    def weigh(self, host_state, spec, assignment):
        return -float(host_state.summary.free_pci)

    def estimate_terms(self, spec):
        return {'free_pci': -1.0}
