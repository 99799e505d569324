"""The operator's tunables the fit needs, passed in as a value.

The fit never reads configuration itself: whoever owns the options (the
engine) builds a FitPolicy once and hands it to every fit.
"""

import dataclasses

LARGE_PAGE_ORDERS = ('largest', 'smallest', 'most_free')


@dataclasses.dataclass(frozen=True, slots=True)
class FitPolicy:
    """Allocation ratios, with Nova's defaults, and the fit's packing preferences.

    ``cpu_allocation_ratio`` multiplies a cell's shared pCPUs for floating
    vCPUs (pinned vCPUs are never overcommitted); ``ram_allocation_ratio``
    multiplies small-page memory (hugepage memory is never overcommitted).
    ``large_page_order``: which hugepage size ``hw:mem_page_size=large|any``
    guests try first (``scheduler.fitting.pages``): ``largest`` (Nova),
    ``smallest``, or ``most_free`` (keeps the scarcer pool for the guests that
    can use nothing else).
    """

    cpu_allocation_ratio: float = 4.0
    ram_allocation_ratio: float = 1.0
    large_page_order: str = 'largest'

    def __post_init__(self):
        for name in ('cpu_allocation_ratio', 'ram_allocation_ratio'):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f"{name}={value!r}: an allocation ratio is a number above 0")
        if self.large_page_order not in LARGE_PAGE_ORDERS:
            raise ValueError(f"large_page_order={self.large_page_order!r}: one of "
                             f"{', '.join(LARGE_PAGE_ORDERS)}")
