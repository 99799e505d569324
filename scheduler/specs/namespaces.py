"""Which extra-spec keys kvmfleet reads, which it keeps and ignores, which it refuses.

Keys in the namespaces handled here (``hw:``, ``os:``, ``pci_passthrough:``)
must be known: an unknown ``hw:foo`` is most likely a typo and is an error.
Nova ``hw:`` keys that only shape the guest's virtual hardware (CPU topology,
watchdog, ...) and do not change placement are checked by the wire modules
the agent builds from; the ones kvmfleet does not build are refused with a
reason, and so are the image properties of that kind and ``resources:``
amounts it does not model.  Keys in other namespaces (``quota:``,
``capabilities:``, ``hw_rng:``, ``hw_video:``, unscoped keys, ...) are kept in
``RequestSpec.extra_specs``.
"""

import re

from scheduler.specs import sources as src
from scheduler.specs.numa import CELL_KEY
from wire import names

CHECKED_NAMESPACES = ('hw', 'os', 'pci_passthrough')

PLACEMENT_KEYS = frozenset({
    'hw:cpu_policy', 'hw:cpu_thread_policy', 'hw:emulator_threads_policy',
    'hw:cpu_dedicated_mask', 'hw:cpu_realtime', 'hw:cpu_realtime_mask',
    'hw:numa_nodes', 'hw:mem_page_size', 'hw:pci_numa_affinity_policy',
    'hw:mem_encryption', 'hw:mem_encryption_model', 'os:secure_boot',
    'pci_passthrough:alias',
})

# Nova keys with no effect on placement that shape the guest's hardware: checked and
# resolved by wire.guest_cpu / wire.guest_hardware, built by the agent.
GUEST_HARDWARE_KEYS = frozenset({
    'hw:cpu_sockets', 'hw:cpu_cores', 'hw:cpu_threads', 'hw:cpu_max_sockets',
    'hw:cpu_max_cores', 'hw:cpu_max_threads', 'hw:boot_menu', 'hw:watchdog_action',
    'hw:serial_port_count', 'hw:pmu', 'hw:hide_hypervisor_id', 'hw:virtio_packed_ring',
    'hw:tpm_version', 'hw:tpm_model', 'hw:vif_multiqueue_enabled', 'hw:viommu_model',
})

NOT_BUILT = 'kvmfleet does not build it (docs/flavors.md, "Refused keys")'
# Nova keys kvmfleet does not build or model: refused rather than accepted and ignored.
UNSUPPORTED_KEYS = {
    'hw:pmem': 'persistent memory (vPMEM) is not supported by kvmfleet',
    'hw:locked_memory': f"locked guest memory on request: {NOT_BUILT}",
    'hw:maxphysaddr_mode': f"a guest physical address size: {NOT_BUILT}",
    'hw:maxphysaddr_bits': f"a guest physical address size: {NOT_BUILT}",
    'hw:sound_model': f"a sound device: {NOT_BUILT}",
    'hw:usb_model': f"a USB controller model: {NOT_BUILT}",
    'hw:stateless_firmware': 'not a Nova flavor key: stateless UEFI firmware is the image '
                             'property hw_firmware_stateless',
    'hw:ephemeral_encryption': 'kvmfleet gives guests no ephemeral disks',
    'hw:ephemeral_encryption_format': 'kvmfleet gives guests no ephemeral disks',
    'hw:cpu_model': 'the guest CPU model is the agent\'s [libvirt] cpu_mode/cpu_model',
    'os:monitors': 'a Hyper-V key (Nova\'s Hyper-V driver); kvmfleet runs KVM',
    'os:resolution': 'a Hyper-V key (Nova\'s Hyper-V driver); kvmfleet runs KVM',
    'os:vram': 'a Hyper-V key (Nova\'s Hyper-V driver); kvmfleet runs KVM',
}

# Nova image properties that would shape the guest but are not built: refused too.
UNSUPPORTED_IMAGE_PROPERTIES = {
    'hw_cdrom_bus': 'kvmfleet attaches no CD-ROM',
    'hw_scsi_model': 'a disk on hw_disk_bus=scsi always gets a virtio-scsi controller',
    'hw_video_ram': f"video RAM sizes: {NOT_BUILT}",
    'hw_input_bus': f"input devices on a chosen bus: {NOT_BUILT}",
    'hw_locked_memory': f"locked guest memory on request: {NOT_BUILT}",
    'hw_maxphysaddr_mode': f"a guest physical address size: {NOT_BUILT}",
    'hw_maxphysaddr_bits': f"a guest physical address size: {NOT_BUILT}",
    'hw_ephemeral_encryption': 'kvmfleet gives guests no ephemeral disks',
    'hw_ephemeral_encryption_format': 'kvmfleet gives guests no ephemeral disks',
    'hw_sound_model': f"a sound device: {NOT_BUILT}",
    'hw_usb_model': f"a USB controller model: {NOT_BUILT}",
    'hw_qemu_guest_agent': f"a guest agent channel: {NOT_BUILT}",
    'hw_time_hpet': f"an HPET timer: {NOT_BUILT}",
    'os_command_line': 'direct-boot kernel command lines come from the agent\'s image catalogue',
    'img_config_drive': 'kvmfleet attaches no config drive',
}

# ``resources[N]:`` keys override Placement amounts: kvmfleet takes the amounts from
# ``vcpus``, ``memory_mb`` and the CPU policy, and models no other resource class.
RESOURCES_KEY = re.compile(r'^resources\d*:')


MACHINE_TYPE_MAX = 64


def check_libvirt_values(sources, errors):
    """Image ``hw_machine_type`` reaches the domain XML: an identifier (``q35``, ``pc-q35-8.2``).

    (The CPU topology counts are checked by wire.guest_cpu.)
    """
    machine = sources.image('hw_machine_type')
    if machine is not None:
        src.checked(errors, names.identifier, machine, src.image_field('hw_machine_type'),
                    MACHINE_TYPE_MAX, 'a machine type')


def check_keys(sources, errors):
    """Report unknown or unsupported keys in the namespaces kvmfleet handles."""
    for key in sorted(sources.image_properties):
        if key in UNSUPPORTED_IMAGE_PROPERTIES:
            errors.add(src.image_field(key), UNSUPPORTED_IMAGE_PROPERTIES[key])
    for key in sorted(sources.extra_specs):
        if RESOURCES_KEY.match(key):
            errors.add(src.flavor_field(key), 'resource amounts come from vcpus, memory_mb and '
                                              'hw:cpu_policy; other resource classes (VGPU, '
                                              'CUSTOM_*, ...) are not modelled by kvmfleet')
            continue
        namespace, sep, _ = key.partition(':')
        if not sep or namespace not in CHECKED_NAMESPACES:
            continue
        if key in UNSUPPORTED_KEYS:
            errors.add(src.flavor_field(key), UNSUPPORTED_KEYS[key])
        elif not (key in PLACEMENT_KEYS or key in GUEST_HARDWARE_KEYS or CELL_KEY.match(key)):
            errors.add(src.flavor_field(key),
                       f'is not a {namespace}: key kvmfleet knows (see docs/flavors.md)')
