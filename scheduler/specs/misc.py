"""Multiqueue, SEV memory encryption, secure boot, traits, aggregate extra specs, and the
guest hardware keys (checked here, built by the agent from the same wire function)."""

import re

from scheduler.specs import sources as src
from wire import request_spec as rs
from wire import sev
from wire.errors import InvalidInput
from wire.guest_hardware import guest_hardware
from wire.guest_quota import guest_quota
from wire.names import TRAIT_NAME

SECURE_BOOT_VALUES = (rs.SECURE_BOOT_REQUIRED, rs.SECURE_BOOT_OPTIONAL,
                      rs.SECURE_BOOT_DISABLED)
TRAIT_VALUES = ('required', 'forbidden')
MODEL_KEY, IMAGE_MODEL_KEY = 'hw:mem_encryption_model', 'hw_mem_encryption_model'
AGGREGATE_PREFIX = 'aggregate_instance_extra_specs:'
# ``trait:NAME`` and Nova's granular ``traitN:NAME`` (one host, so one group here).
TRAIT_KEY = re.compile(r'^trait([0-9]*):(.*)$')


def parse_multiqueue(sources, errors):
    flavor = src.flavor_bool(sources, 'hw:vif_multiqueue_enabled', errors)
    image = src.image_bool(sources, 'hw_vif_multiqueue_enabled', errors)
    # None when neither side says: the agent's default ([agent] vif_multiqueue_default)
    return src.unique('hw:vif_multiqueue_enabled', flavor, 'hw_vif_multiqueue_enabled', image,
                      errors)


def parse_mem_encryption(sources, errors):
    """SEV: either side may ask, both must agree; needs a UEFI image, q35 if named.

    Returns the model (wire.sev.SEV, SEV_ES or SEV_SNP), None without encryption.
    """
    flavor = src.flavor_bool(sources, 'hw:mem_encryption', errors)
    image = src.image_bool(sources, 'hw_mem_encryption', errors)
    wanted = src.unique('hw:mem_encryption', flavor, 'hw_mem_encryption', image, errors)
    model = _mem_encryption_model(sources, errors)
    if not wanted:
        if model is not None:
            errors.add(_model_field(sources), f'{model!r} needs memory encryption: set '
                                              'hw:mem_encryption=true (or the image\'s '
                                              'hw_mem_encryption=true)')
        return None
    asked_by = 'hw:mem_encryption' if flavor else 'hw_mem_encryption'
    _require_uefi(sources, f'{asked_by}=true', errors)
    machine = sources.image('hw_machine_type')
    if machine is not None and 'q35' not in machine:
        errors.add(src.image_field('hw_machine_type'),
                   f'{machine!r}: {asked_by}=true needs a q35 machine type')
    return model or sev.SEV


def _mem_encryption_model(sources, errors):
    """``hw:mem_encryption_model`` / ``hw_mem_encryption_model``; both must agree."""
    flavor = src.flavor_choice(sources, MODEL_KEY, sev.MODELS, errors)
    image = src.image_choice(sources, IMAGE_MODEL_KEY, sev.MODELS, errors)
    return src.unique(MODEL_KEY, flavor, IMAGE_MODEL_KEY, image, errors)


def _model_field(sources):
    if sources.flavor(MODEL_KEY) is not None:
        return src.flavor_field(MODEL_KEY)
    return src.image_field(IMAGE_MODEL_KEY)


def check_snp_secure_boot(sources, model, secure_boot, errors):
    """An SEV-SNP guest boots the firmware libvirt finds for ``sev-snp`` (edk2's AmdSev
    build: stateless, no secure boot), so it cannot also require secure boot."""
    if model != sev.SEV_SNP or secure_boot != rs.SECURE_BOOT_REQUIRED:
        return
    field = (src.flavor_field('os:secure_boot') if sources.flavor('os:secure_boot') is not None
             else src.image_field('os_secure_boot'))
    errors.add(field, "'required': an amd-sev-snp guest boots the SEV-SNP firmware (edk2 "
                      'AmdSev, stateless), which has no secure boot')


def parse_secure_boot(sources, errors):
    """``os:secure_boot`` / ``os_secure_boot``; both must agree; required needs UEFI."""
    flavor = src.flavor_choice(sources, 'os:secure_boot', SECURE_BOOT_VALUES, errors)
    image = src.image_choice(sources, 'os_secure_boot', SECURE_BOOT_VALUES, errors)
    value = src.unique('os:secure_boot', flavor, 'os_secure_boot', image, errors)
    if value == rs.SECURE_BOOT_REQUIRED:
        asked_by = 'os:secure_boot' if flavor else 'os_secure_boot'
        _require_uefi(sources, f'{asked_by}=required', errors)
    return value or rs.SECURE_BOOT_DISABLED


def _require_uefi(sources, what, errors):
    firmware = sources.image('hw_firmware_type')
    if firmware != 'uefi':
        errors.add(src.image_field('hw_firmware_type'),
                   f'{firmware!r}: {what} needs an image with hw_firmware_type=uefi')


def parse_traits(sources, errors):
    """(required, forbidden) trait names from the flavor and the image."""
    required, forbidden = set(), set()
    for origin, mapping, make_field in (
            ('flavor', sources.extra_specs, src.flavor_field),
            ('image', sources.image_properties, src.image_field)):
        for key, value in mapping.items():
            match = TRAIT_KEY.match(key)
            if not match:
                continue
            field, name = make_field(key), match.group(2)
            if not TRAIT_NAME.match(name):
                errors.add(field, f'{name!r} is not a trait name (upper case, digits, _)')
            elif origin == 'image' and value != 'required':
                errors.add(field, f'{value!r}: an image can only require a trait')
            elif value in TRAIT_VALUES:
                (required if value == 'required' else forbidden).add(name)
            else:
                errors.add(field, f'{value!r} is not one of {", ".join(TRAIT_VALUES)}')
    for name in sorted(required & forbidden):
        errors.add(src.flavor_field(f'trait:{name}'),
                   f'{name} is both required and forbidden')
    return frozenset(required - forbidden), frozenset(forbidden - required)


def parse_aggregate_specs(sources, errors):
    """``aggregate_instance_extra_specs:KEY`` values, kept verbatim for the filter."""
    specs = {}
    for key, value in sources.extra_specs.items():
        if not key.startswith(AGGREGATE_PREFIX):
            continue
        name = key[len(AGGREGATE_PREFIX):]
        if not name:
            errors.add(src.flavor_field(key), 'names no aggregate metadata key')
            continue
        specs[name] = value
    return specs


def check_guest_hardware(sources, errors):
    """The host traits the guest's hardware and ``quota:`` tunables need (a vTPM, stateless
    firmware, NIC shaping), after checking them with ``wire.guest_hardware`` and
    ``wire.guest_quota``, which the agent builds from."""
    traits = frozenset()
    try:
        traits |= guest_hardware(sources.extra_specs, sources.image_properties).required_traits
    except InvalidInput as exc:
        errors.extend(exc.errors)
    try:
        traits |= guest_quota(sources.extra_specs).required_traits
    except InvalidInput as exc:
        errors.extend(exc.errors)
    return traits
