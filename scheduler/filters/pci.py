"""PCI and SR-IOV: enough free matching devices / VFs on the physnet (precheck)."""

from scheduler.filters.base import SummaryFilter
from scheduler.fitting import reasons


class PciFilter(SummaryFilter):
    name = 'pci'
    cost = 5
    reasons = frozenset({reasons.PCI_NO_DEVICE, reasons.PCI_NUMA_AFFINITY,
                         reasons.PCI_IOMMU_GROUP})
