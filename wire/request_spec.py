"""A validated request: Nova flavor extra specs and image properties, resolved.

The scheduler builds a RequestSpec from the operator's request (see
``scheduler.specs``); the agent receives it with the Assignment and reads
only resolved fields, never the raw extra specs.
"""

import copy
import dataclasses

REQUEST_SPEC_VERSION = 1

CPU_SHARED, CPU_DEDICATED, CPU_MIXED = 'shared', 'dedicated', 'mixed'
THREAD_PREFER, THREAD_ISOLATE, THREAD_REQUIRE = 'prefer', 'isolate', 'require'
EMULATOR_SHARE, EMULATOR_ISOLATE = 'share', 'isolate'
PAGE_SMALL, PAGE_LARGE, PAGE_ANY = 'small', 'large', 'any'
PCI_REQUIRED, PCI_LEGACY, PCI_PREFERRED, PCI_SOCKET = 'required', 'legacy', 'preferred', 'socket'
SECURE_BOOT_REQUIRED, SECURE_BOOT_OPTIONAL, SECURE_BOOT_DISABLED = (
    'required', 'optional', 'disabled')


@dataclasses.dataclass(frozen=True, slots=True)
class GuestCell:
    id: int
    vcpus: tuple          # guest vCPU ids
    memory_mb: int


@dataclasses.dataclass(frozen=True, slots=True)
class PciRequest:
    """``count`` devices matching vendor/product (and device type)."""

    alias: str
    count: int
    vendor_id: str
    product_id: str
    device_type: str | None = None      # type-PF | type-VF | type-PCI | None (any)
    numa_policy: str = PCI_LEGACY


@dataclasses.dataclass(frozen=True, slots=True)
class PortRequest:
    vnic_type: str = 'normal'            # normal | direct
    physical_network: str | None = None
    mac_address: str | None = None
    vlan: int | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class ServerGroup:
    name: str
    policy: str      # affinity | anti-affinity | soft-affinity | soft-anti-affinity
    # Nova's anti-affinity rule: members allowed on one host (None: Nova's default, 1).
    max_server_per_host: int | None = None

    @property
    def members_per_host(self):
        """Members an anti-affinity group allows on one host."""
        return self.max_server_per_host or 1


@dataclasses.dataclass(frozen=True, slots=True)
class RequestSpec:
    """Resolved needs of one instance (``count`` identical ones for multi-create).

    ``numa_cells`` is empty when the guest has no NUMA topology: it floats
    over the host's shared CPUs and takes small pages host-wide.
    ``page_size`` is None (small pages, no NUMA implied), ``'small'``,
    ``'large'``, ``'any'`` or an int size in KiB.
    """

    name: str
    vcpus: int
    memory_mb: int
    cpu_policy: str = CPU_SHARED
    dedicated_vcpus: frozenset = frozenset()
    thread_policy: str | None = None
    emulator_threads_policy: str = EMULATOR_SHARE
    realtime_vcpus: frozenset = frozenset()
    numa_cells: tuple = ()
    page_size: object = None
    pci_requests: tuple = ()
    ports: tuple = ()
    pci_numa_affinity_policy: str = PCI_LEGACY
    multiqueue: bool | None = None    # None: the agent's default (on for >= 2 vCPUs)
    mem_encryption: bool = False
    mem_encryption_model: str | None = None   # a wire.sev model when mem_encryption
    secure_boot: str = SECURE_BOOT_DISABLED
    required_traits: frozenset = frozenset()
    forbidden_traits: frozenset = frozenset()
    aggregate_specs: dict = dataclasses.field(default_factory=dict)
    count: int = 1
    min_count: int = 1
    server_group: ServerGroup | None = None
    extra_specs: dict = dataclasses.field(default_factory=dict)
    image_properties: dict = dataclasses.field(default_factory=dict)
    image: str | None = None         # the image to boot (None: the agent's default image)

    @property
    def has_numa_topology(self):
        return bool(self.numa_cells)

    @property
    def pinned(self):
        return bool(self.dedicated_vcpus)

    def to_dict(self):
        # What dataclasses.asdict gives, built directly: asdict deep-copies every
        # value one by one, and this runs on every boot (docs/benchmarks.md, Bus).
        data = {name: getattr(self, name) for name in _FIELD_NAMES}
        for key in ('aggregate_specs', 'extra_specs', 'image_properties'):
            data[key] = copy.deepcopy(data[key])
        for key in ('dedicated_vcpus', 'realtime_vcpus', 'required_traits', 'forbidden_traits'):
            data[key] = sorted(data[key])
        data['numa_cells'] = [{'id': c.id, 'vcpus': list(c.vcpus), 'memory_mb': c.memory_mb}
                              for c in self.numa_cells]
        data['pci_requests'] = tuple(_plain(p) for p in self.pci_requests)
        data['ports'] = tuple(_plain(p) for p in self.ports)
        data['server_group'] = _plain(self.server_group) if self.server_group else None
        data['version'] = REQUEST_SPEC_VERSION
        return data

    @classmethod
    def from_dict(cls, data):
        """Rebuild a spec serialised by ``to_dict`` (trusted: made by the scheduler)."""
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for key in ('dedicated_vcpus', 'realtime_vcpus', 'required_traits', 'forbidden_traits'):
            values[key] = frozenset(values.get(key, ()))
        values['numa_cells'] = tuple(GuestCell(c['id'], tuple(c['vcpus']), c['memory_mb'])
                                     for c in values.get('numa_cells', ()))
        values['pci_requests'] = tuple(PciRequest(**p) for p in values.get('pci_requests', ()))
        values['ports'] = tuple(PortRequest(**p) for p in values.get('ports', ()))
        group = values.get('server_group')
        values['server_group'] = ServerGroup(**group) if group else None
        return cls(**values)


_FIELD_NAMES = tuple(f.name for f in dataclasses.fields(RequestSpec))


def _plain(value):
    """A flat dataclass (PciRequest, PortRequest, ServerGroup) as a dict of its fields."""
    return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
