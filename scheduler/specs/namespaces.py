"""Which extra-spec keys kvmfleet reads, which it keeps and ignores, which it refuses.

Keys in the namespaces handled here (``hw:``, ``os:``, ``pci_passthrough:``)
must be known: an unknown ``hw:foo`` is most likely a typo and is an error.
Nova ``hw:`` keys that only shape the guest's virtual hardware (CPU topology,
watchdog, TPM, ...) and do not change placement are accepted and kept for
the agent.  Keys in other namespaces (``quota:``, ``capabilities:``,
``resources:``, ``hw_rng:``, ``hw_video:``, unscoped keys, ...) are kept in
``RequestSpec.extra_specs`` and otherwise ignored.
"""

from scheduler.specs import sources as src
from scheduler.specs.numa import CELL_KEY
from wire import fields, names

CHECKED_NAMESPACES = ('hw', 'os', 'pci_passthrough')

PLACEMENT_KEYS = frozenset({
    'hw:cpu_policy', 'hw:cpu_thread_policy', 'hw:emulator_threads_policy',
    'hw:cpu_dedicated_mask', 'hw:cpu_realtime', 'hw:cpu_realtime_mask',
    'hw:numa_nodes', 'hw:mem_page_size', 'hw:pci_numa_affinity_policy',
    'hw:vif_multiqueue_enabled', 'hw:mem_encryption', 'os:secure_boot',
    'pci_passthrough:alias',
})

# Nova keys with no effect on placement: kept for the agent, not interpreted here.
GUEST_HARDWARE_KEYS = frozenset({
    'hw:cpu_sockets', 'hw:cpu_cores', 'hw:cpu_threads', 'hw:cpu_max_sockets',
    'hw:cpu_max_cores', 'hw:cpu_max_threads', 'hw:boot_menu', 'hw:watchdog_action',
    'hw:serial_port_count', 'hw:pmu', 'hw:hide_hypervisor_id', 'hw:tpm_version',
    'hw:tpm_model', 'hw:locked_memory', 'hw:virtio_packed_ring', 'hw:mem_encryption_model',
    'hw:maxphysaddr_mode', 'hw:maxphysaddr_bits', 'hw:viommu_model', 'hw:sound_model',
    'hw:usb_model', 'hw:stateless_firmware', 'hw:ephemeral_encryption',
    'hw:ephemeral_encryption_format', 'hw:cpu_model',
    'os:monitors', 'os:resolution', 'os:vram',
})

# Nova keys whose resources kvmfleet does not model: refused rather than ignored.
UNSUPPORTED_KEYS = {
    'hw:pmem': 'persistent memory (vPMEM) is not supported by kvmfleet',
}


# Guest CPU topology counts the agent writes into the domain XML: whole numbers.
TOPOLOGY_COUNT_KEYS = ('cpu_sockets', 'cpu_cores', 'cpu_threads', 'cpu_max_sockets',
                       'cpu_max_cores', 'cpu_max_threads')
MACHINE_TYPE_MAX = 64


def check_libvirt_values(sources, errors):
    """Values the agent copies into the domain XML follow a strict syntax.

    Image ``hw_machine_type`` is an identifier (``q35``, ``pc-q35-8.2``); the
    CPU topology counts are whole numbers from 1 to ``[limits] max_vcpus``.
    """
    machine = sources.image('hw_machine_type')
    if machine is not None:
        src.checked(errors, names.identifier, machine, src.image_field('hw_machine_type'),
                    MACHINE_TYPE_MAX, 'a machine type')
    for name in TOPOLOGY_COUNT_KEYS:
        for value, field in ((sources.flavor(f'hw:{name}'), src.flavor_field(f'hw:{name}')),
                             (sources.image(f'hw_{name}'), src.image_field(f'hw_{name}'))):
            if value is not None:
                src.checked(errors, fields.integer, value, field, 1, sources.limits.max_vcpus)


def check_keys(sources, errors):
    """Report unknown or unsupported keys in the namespaces kvmfleet handles."""
    for key in sorted(sources.extra_specs):
        namespace, sep, _ = key.partition(':')
        if not sep or namespace not in CHECKED_NAMESPACES:
            continue
        if key in UNSUPPORTED_KEYS:
            errors.add(src.flavor_field(key), UNSUPPORTED_KEYS[key])
        elif not (key in PLACEMENT_KEYS or key in GUEST_HARDWARE_KEYS or CELL_KEY.match(key)):
            errors.add(src.flavor_field(key),
                       f'is not a {namespace}: key kvmfleet knows (see docs/flavors.md)')
