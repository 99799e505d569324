"""The guest's virtual hardware asked by flavor keys and image properties, decided once.

The scheduler refuses a request whose keys are invalid, contradict each other
or ask for what kvmfleet does not build, before anything is claimed; the agent
builds the devices from the same value.  So no key is accepted and then
ignored.  Keys, values and which side wins are Nova's (docs/flavors.md):

* ``hw:watchdog_action`` / ``hw_watchdog_action``: the flavor wins;
  ``disabled`` (default) adds no watchdog;
* ``hw:serial_port_count`` / ``hw_serial_port_count``: the image may ask
  for fewer ports than the flavor, not more; default 1 (port 0 is the
  console log);
* ``hw:boot_menu`` / ``hw_boot_menu``: the image wins when set;
* ``hw:pmu`` / ``hw_pmu`` and ``hw:virtio_packed_ring`` /
  ``hw_virtio_packed_ring``: both sides must agree when both are set;
* ``hw:hide_hypervisor_id`` / ``img_hide_hypervisor_id``: either hides it;
* ``hw:tpm_version`` / ``hw_tpm_version`` and ``hw:tpm_model`` /
  ``hw_tpm_model``: a vTPM emulated by swtpm; flavor and image must agree;
  the model defaults to ``tpm-tis``, ``tpm-crb`` needs version 2.0; the
  request then requires the host traits of that version and model, which
  agents report from libvirt's domain capabilities;
* ``hw:viommu_model`` / ``hw_viommu_model``: a virtual IOMMU on a q35
  machine; flavor and image must agree; ``auto`` is ``virtio`` (libvirt has it
  since 8.3; kvmfleet's platform, Debian 12, has 9.0); ``smmuv3`` is Arm's and
  kvmfleet guests are x86_64; an image ``hw_machine_type`` must be a q35 type;
* image only: ``hw_disk_bus``, ``hw_vif_model``, ``hw_video_model``,
  ``hw_rng_model`` (with the flavor's ``hw_rng:allowed``, ``hw_rng:rate_bytes``
  and ``hw_rng:rate_period``), ``hw_pointer_model``, and
  ``hw_firmware_stateless`` (UEFI without a variable store: needs
  ``hw_firmware_type=uefi`` and no required secure boot; the request then
  requires the host trait ``COMPUTE_SECURITY_STATELESS_FIRMWARE``, reported by
  agents whose libvirt lists a plain UEFI loader).
"""

import dataclasses

from wire import fields
from wire.errors import FieldError, InvalidInput

TRUE_WORDS = frozenset({'1', 't', 'true', 'on', 'y', 'yes'})
FALSE_WORDS = frozenset({'0', 'f', 'false', 'off', 'n', 'no'})
WATCHDOG_ACTIONS = ('disabled', 'reset', 'poweroff', 'pause', 'none')
DISK_BUSES = ('virtio', 'scsi', 'sata', 'usb')
VIF_MODELS = ('virtio', 'e1000', 'e1000e', 'rtl8139', 'ne2k_pci', 'pcnet')
VIDEO_MODELS = ('none', 'vga', 'cirrus', 'virtio', 'bochs', 'qxl')
RNG_MODELS = ('virtio',)
POINTER_MODELS = ('usbtablet',)
TPM_VERSIONS = ('1.2', '2.0')
TPM_MODELS = ('tpm-tis', 'tpm-crb')
# os-traits names: the scheduler requires them, agents report them (discovery).
TPM_VERSION_TRAITS = {'1.2': 'COMPUTE_SECURITY_TPM_1_2', '2.0': 'COMPUTE_SECURITY_TPM_2_0'}
TPM_MODEL_TRAITS = {'tpm-tis': 'COMPUTE_SECURITY_TPM_TIS', 'tpm-crb': 'COMPUTE_SECURITY_TPM_CRB'}
VIOMMU_MODELS = ('none', 'intel', 'smmuv3', 'virtio', 'auto')
VIOMMU_AUTO = 'virtio'
TRAIT_STATELESS_FIRMWARE = 'COMPUTE_SECURITY_STATELESS_FIRMWARE'
MAX_SERIAL_PORTS = 8
MAX_RATE = 1 << 40


@dataclasses.dataclass(frozen=True, slots=True)
class GuestHardware:
    """Devices and features beyond CPU, memory and placement (defaults: none asked)."""

    watchdog_action: str | None = None   # None: no watchdog device
    serial_ports: int = 1
    boot_menu: bool = False
    pmu: bool | None = None              # None: the hypervisor's default
    hide_hypervisor_id: bool = False
    packed_ring: bool = False
    disk_bus: str = 'virtio'
    vif_model: str = 'virtio'
    video_model: str | None = None       # None: no video device
    rng_model: str | None = None
    rng_rate_bytes: int | None = None
    rng_rate_period_ms: int | None = None
    pointer_model: str | None = None
    tpm_version: str | None = None       # None: no vTPM
    tpm_model: str | None = None
    viommu_model: str | None = None      # None: no virtual IOMMU; else 'intel' or 'virtio'
    firmware_stateless: bool = False     # UEFI with no variable store

    @property
    def required_traits(self):
        """Host traits this hardware needs (a vTPM of its version and model, stateless
        UEFI firmware)."""
        traits = set()
        if self.tpm_version:
            traits |= {TPM_VERSION_TRAITS[self.tpm_version], TPM_MODEL_TRAITS[self.tpm_model]}
        if self.firmware_stateless:
            traits.add(TRAIT_STATELESS_FIRMWARE)
        return frozenset(traits)

    @property
    def needs_q35(self):
        """A virtual IOMMU needs the q35 machine (x86)."""
        return self.viommu_model is not None


class _Reader:
    """Values of one request's flavor keys and image properties, errors collected."""

    def __init__(self, extra_specs, image_properties):
        self.flavor = extra_specs or {}
        self.image = image_properties or {}
        self.errors = []

    def _raw(self, origin, key):
        value = (self.flavor if origin == 'flavor' else self.image).get(key)
        if value is None:
            return None, None
        field = f"{'extra_specs' if origin == 'flavor' else 'image_properties'}.{key}"
        if isinstance(value, bool):
            return ('true' if value else 'false'), field
        if isinstance(value, (int, str)):
            return str(value).strip(), field
        self.errors.append(FieldError(field, f"{value!r} is not a string"))
        return None, None

    def boolean(self, origin, key):
        text, field = self._raw(origin, key)
        if text is None:
            return None
        if text.lower() in TRUE_WORDS or text.lower() in FALSE_WORDS:
            return text.lower() in TRUE_WORDS
        self.errors.append(FieldError(field, f"{text!r} is not a boolean (true/false)"))
        return None

    def choice(self, origin, key, allowed):
        text, field = self._raw(origin, key)
        if text is None:
            return None
        if text.lower() in allowed:
            return text.lower()
        self.errors.append(FieldError(field, f"{text[:64]!r} is not one of {', '.join(allowed)}"))
        return None

    def integer(self, origin, key, low, high):
        text, field = self._raw(origin, key)
        if text is None:
            return None
        value = fields.text_integer(text, low, high)
        if value is not None:
            return value
        self.errors.append(FieldError(field, f"{text[:64]!r} is not an integer {low}..{high}"))
        return None

    def agreeing(self, flavor_key, image_key, allowed=None):
        """A boolean (or choice) both sides may set; set on both, they must agree (Nova)."""
        if allowed is None:
            flavor, image = self.boolean('flavor', flavor_key), self.boolean('image', image_key)
        else:
            flavor = self.choice('flavor', flavor_key, allowed)
            image = self.choice('image', image_key, allowed)
        if flavor is not None and image is not None and flavor != image:
            self.errors.append(FieldError(f"image_properties.{image_key}",
                                          f"{image} conflicts with the flavor's "
                                          f"{flavor_key}={flavor}"))
        return flavor if flavor is not None else image


def guest_hardware(extra_specs, image_properties):
    """The GuestHardware asked; InvalidInput naming every key that breaks a rule."""
    read = _Reader(extra_specs, image_properties)
    watchdog = (read.choice('flavor', 'hw:watchdog_action', WATCHDOG_ACTIONS)
                or read.choice('image', 'hw_watchdog_action', WATCHDOG_ACTIONS))
    boot_menu = read.boolean('image', 'hw_boot_menu')
    if boot_menu is None:
        boot_menu = read.boolean('flavor', 'hw:boot_menu')
    hardware = GuestHardware(
        watchdog_action=None if watchdog in (None, 'disabled') else watchdog,
        serial_ports=_serial_ports(read),
        boot_menu=bool(boot_menu),
        pmu=read.agreeing('hw:pmu', 'hw_pmu'),
        hide_hypervisor_id=bool(read.boolean('flavor', 'hw:hide_hypervisor_id')
                                or read.boolean('image', 'img_hide_hypervisor_id')),
        packed_ring=bool(read.agreeing('hw:virtio_packed_ring', 'hw_virtio_packed_ring')),
        disk_bus=read.choice('image', 'hw_disk_bus', DISK_BUSES) or 'virtio',
        vif_model=read.choice('image', 'hw_vif_model', VIF_MODELS) or 'virtio',
        video_model=read.choice('image', 'hw_video_model', VIDEO_MODELS),
        pointer_model=read.choice('image', 'hw_pointer_model', POINTER_MODELS),
        viommu_model=_viommu(read), firmware_stateless=_stateless(read),
        **_rng(read), **_tpm(read))
    if read.errors:
        raise InvalidInput(read.errors)
    return hardware


def _serial_ports(read):
    flavor = read.integer('flavor', 'hw:serial_port_count', 1, MAX_SERIAL_PORTS)
    image = read.integer('image', 'hw_serial_port_count', 1, MAX_SERIAL_PORTS)
    if flavor is not None and image is not None and image > flavor:
        read.errors.append(FieldError('image_properties.hw_serial_port_count',
                                      f"{image} exceeds the flavor's "
                                      f"hw:serial_port_count={flavor}"))
    return image or flavor or 1


def _rng(read):
    """The image's RNG device, which the flavor must allow (``hw_rng:allowed``)."""
    model = read.choice('image', 'hw_rng_model', RNG_MODELS)
    allowed = read.boolean('flavor', 'hw_rng:allowed')
    rate_bytes = read.integer('flavor', 'hw_rng:rate_bytes', 1, MAX_RATE)
    period = read.integer('flavor', 'hw_rng:rate_period', 1, MAX_RATE)
    if model and not allowed:
        read.errors.append(FieldError('image_properties.hw_rng_model',
                                      'the flavor does not allow an RNG device '
                                      '(hw_rng:allowed=true)'))
    if (rate_bytes is None) != (period is None):
        read.errors.append(FieldError('extra_specs.hw_rng:rate_bytes',
                                      'hw_rng:rate_bytes and hw_rng:rate_period go together'))
    return {'rng_model': model if allowed else None, 'rng_rate_bytes': rate_bytes,
            'rng_rate_period_ms': period}


def _tpm(read):
    version = read.agreeing('hw:tpm_version', 'hw_tpm_version', TPM_VERSIONS)
    model = read.agreeing('hw:tpm_model', 'hw_tpm_model', TPM_MODELS)
    if model and not version:
        read.errors.append(FieldError('extra_specs.hw:tpm_version',
                                      f"is required with a TPM model ({model})"))
    if version == '1.2' and model == 'tpm-crb':
        read.errors.append(FieldError('extra_specs.hw:tpm_model',
                                      'tpm-crb needs TPM version 2.0'))
    if not version:
        return {}
    return {'tpm_version': version, 'tpm_model': model or 'tpm-tis'}


def _viommu(read):
    """'intel', 'virtio' or None; smmuv3 (Arm) and a machine type other than q35 refused."""
    model = read.agreeing('hw:viommu_model', 'hw_viommu_model', VIOMMU_MODELS)
    if model in (None, 'none'):
        return None
    asked_by = ('extra_specs.hw:viommu_model' if 'hw:viommu_model' in read.flavor
                else 'image_properties.hw_viommu_model')
    if model == 'smmuv3':
        read.errors.append(FieldError(asked_by, 'smmuv3 is the Arm SMMU (aarch64 guests); '
                                                'kvmfleet guests are x86_64: use intel, '
                                                'virtio or auto'))
        return None
    machine = read.image.get('hw_machine_type')
    if machine is not None and 'q35' not in str(machine):
        read.errors.append(FieldError('image_properties.hw_machine_type',
                                      f"{str(machine)[:64]!r}: a virtual IOMMU ({asked_by}) "
                                      'needs a q35 machine type'))
    return VIOMMU_AUTO if model == 'auto' else model


def _stateless(read):
    """Stateless UEFI firmware (Nova's image property); needs a UEFI image."""
    stateless = bool(read.boolean('image', 'hw_firmware_stateless'))
    firmware = read.image.get('hw_firmware_type')
    if stateless and firmware != 'uefi':
        read.errors.append(FieldError('image_properties.hw_firmware_stateless',
                                      f"needs hw_firmware_type=uefi, not {firmware!r} "
                                      '(stateless firmware is UEFI without a variable store)'))
    if stateless and 'required' in (read.flavor.get('os:secure_boot'),
                                    read.image.get('os_secure_boot')):
        read.errors.append(FieldError('image_properties.hw_firmware_stateless',
                                      'cannot go with os:secure_boot=required: kvmfleet '
                                      'builds stateless firmware from the plain (not '
                                      'secure-boot) UEFI code'))
    return stateless
