"""What the domain builder needs from the host's domain capabilities.

Discovery parses the domain capabilities once; launching an SEV guest also
needs the C-bit position and the reduced physical address bits from them, and
stateless firmware the path of a plain UEFI loader.
The result is the ``host_features`` dict InstanceDriver takes.
"""


def host_features(domcaps):
    """``host_features`` for InstanceDriver from discovery's DomainCapabilities (or None)."""
    if domcaps is None:
        return {'sev_cbitpos': None, 'sev_reduced_phys_bits': None,
                'secure_boot_available': False, 'stateless_loader': None}
    usable_sev = domcaps.sev_supported
    return {
        'sev_cbitpos': domcaps.sev_cbitpos if usable_sev else None,
        'sev_reduced_phys_bits': domcaps.sev_reduced_phys_bits if usable_sev else None,
        'secure_boot_available': domcaps.secure_boot,
        'stateless_loader': domcaps.stateless_loader,
    }
