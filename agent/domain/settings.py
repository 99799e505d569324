"""Host-side inputs of the domain builder that are not in the request or assignment.

The agent fills a DomainSettings from its configuration, the host's domain
capabilities and the instance's directory; the builder itself reads no config
and does no I/O, so the same inputs always give the same XML.
"""

import dataclasses

VIRT_TYPES = ('kvm', 'qemu')
CPU_MODES = ('host-passthrough', 'host-model', 'custom', 'none')
SECLABEL_MODELS = ('default', 'none', 'dac', 'selinux', 'apparmor')


@dataclasses.dataclass(frozen=True, slots=True)
class DomainSettings:
    """What the builder needs to know about the host and the instance's files.

    ``cpu_mode`` None means the default for ``virt_type``: host-model for kvm,
    none (QEMU's default CPU model) for qemu/TCG.  ``seclabel_model``
    'default' leaves sVirt to libvirt's own default; 'none' turns it off.
    ``vhost_net`` says whether /dev/vhost-net exists (vhost backend) or not
    (QEMU's userspace virtio-net backend).
    """

    instance_dir: str
    console_log: str
    disk_path: str | None = None          # qcow2 overlay when the image has a disk
    virt_type: str = 'kvm'
    cpu_mode: str | None = None
    cpu_model: str | None = None          # with cpu_mode 'custom'
    seclabel_model: str = 'default'
    vhost_net: bool = False
    machine_type: str | None = None       # None: libvirt's default, q35 when UEFI is needed
    sev_cbitpos: int | None = None        # from the host's domain capabilities
    sev_reduced_phys_bits: int | None = None
    sev_policy: int = 0x0033              # no debug, no key sharing; ES bit: wire/sev.py
    secure_boot_available: bool = False   # the host has secure-boot UEFI firmware
    stateless_loader: str | None = None   # plain UEFI code file for stateless firmware
    max_tap_queues: int = 256             # Linux >= 4.0 taps take up to 256 queues
    multiqueue_default: bool = True       # for a spec that does not say (multiqueue None)
    networks: object = None               # agent.network.HostNetworks: bridges of networks

    def effective_cpu_mode(self):
        if self.cpu_mode:
            return self.cpu_mode
        return 'host-model' if self.virt_type == 'kvm' else 'none'


class DomainBuildError(ValueError):
    """The inputs cannot make a valid domain; the message names the field and the rule."""
