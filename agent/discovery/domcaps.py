"""Domain capabilities XML (virConnectGetDomainCapabilities) -> what guests can get.

Read here: the virt type and machine libvirt answered for, SEV support with
its guest limits, the launch security types (``sev-snp`` among them on
libvirt >= 10.5 with an SEV-SNP capable QEMU and kernel), the UEFI loaders
and whether secure boot is possible, and the vTPM models and versions libvirt
can emulate (swtpm).

Secure boot counts as available when the loader's ``secure`` enum offers
``yes``, or when a loader path names a secure-boot build (``secboot``):
older libvirt lists such firmware without the enum.
"""

import dataclasses

from agent.discovery import xmlutil

SOURCE = 'domain capabilities'
SEV_SNP_TYPE = 'sev-snp'
SECURE_BOOT_LOADER_MARK = 'secboot'
# Debian's names for secure-boot builds besides ``secboot`` (symlinks to them).
SECURE_BOOT_LOADER_ALIASES = ('.ms.', 'snakeoil')


@dataclasses.dataclass(frozen=True, slots=True)
class DomainCapabilities:
    """The guest features of one (virt type, arch, machine) on this host."""

    virt_type: str
    arch: str | None = None
    machine: str | None = None
    emulator: str | None = None
    firmware: tuple = ()             # values of <os><enum name='firmware'>: 'bios', 'efi'
    loaders: tuple = ()              # firmware loader paths
    secure_boot: bool = False
    sev_supported: bool = False
    sev_max_guests: int | None = None
    sev_max_es_guests: int | None = None
    sev_cbitpos: int | None = None           # SEV launch parameters for <launchSecurity>
    sev_reduced_phys_bits: int | None = None
    launch_security: tuple = ()      # <launchSecurity> types offered: 'sev', 'sev-snp', ...
    host_model_features: frozenset = frozenset()
    tpm_models: tuple = ()           # emulated vTPM models ('tpm-tis', 'tpm-crb')
    tpm_versions: tuple = ()         # emulated vTPM versions ('1.2', '2.0')

    @property
    def uefi(self):
        """UEFI firmware is usable: 'efi' offered, or at least one loader listed."""
        return 'efi' in self.firmware or bool(self.loaders)

    @property
    def sev_snp_supported(self):
        """SEV-SNP guests can be launched: ``sev-snp`` is an offered launch security type.

        libvirt reports SEV-SNP only there; its limits and launch parameters are the
        ``<sev>`` element's (SEV-SNP guests take SEV-ES slots), so that must say yes too.
        """
        return self.sev_supported and SEV_SNP_TYPE in self.launch_security

    @property
    def stateless_loader(self):
        """The UEFI loader for stateless firmware (no secure boot, no variable store), or None.

        Named, not autoselected: libvirt 9.0's firmware autoselection finds no
        firmware for ``<loader stateless='yes'>`` ("Unable to find any firmware
        to satisfy 'efi'") while the same code file named as a stateless pflash
        loader starts.
        """
        for path in self.loaders:
            name = path.rsplit('/', 1)[-1]
            marks = (SECURE_BOOT_LOADER_MARK, *SECURE_BOOT_LOADER_ALIASES)
            if not any(mark in name for mark in marks):
                return path
        return None


def parse_domain_capabilities(xml_text):
    """Parse domain capabilities XML; HostXmlError if malformed."""
    root = xmlutil.parse(xml_text, SOURCE)
    loader = root.find('os/loader')
    loaders = ()
    secure_values = ()
    if loader is not None and loader.get('supported', 'yes') == 'yes':
        loaders = tuple(v.text.strip() for v in loader.findall('value') if v.text)
        secure_values = _enum_values(loader, 'secure')
    sev = root.find('features/sev')
    sev_supported = sev is not None and sev.get('supported') == 'yes'
    return DomainCapabilities(
        virt_type=xmlutil.text(root, 'domain', ''),
        arch=xmlutil.text(root, 'arch'), machine=xmlutil.text(root, 'machine'),
        emulator=xmlutil.text(root, 'path'),
        firmware=_enum_values(root.find('os'), 'firmware'),
        loaders=loaders,
        secure_boot='yes' in secure_values
        or any(SECURE_BOOT_LOADER_MARK in path for path in loaders),
        sev_supported=sev_supported,
        sev_max_guests=_sev_limit(sev, 'maxGuests') if sev_supported else None,
        sev_max_es_guests=_sev_limit(sev, 'maxESGuests') if sev_supported else None,
        sev_cbitpos=_sev_limit(sev, 'cbitpos') if sev_supported else None,
        sev_reduced_phys_bits=_sev_limit(sev, 'reducedPhysBits') if sev_supported else None,
        launch_security=_launch_security(root.find('features/launchSecurity')),
        host_model_features=_host_model_features(root),
        **_tpm(root.find('devices/tpm')),
    )


def _enum_values(element, name):
    if element is None:
        return ()
    for enum in element.findall('enum'):
        if enum.get('name') == name:
            return tuple(v.text.strip() for v in enum.findall('value') if v.text)
    return ()


def _launch_security(element):
    """The ``sectype`` values of ``<features><launchSecurity supported='yes'>``."""
    if element is None or element.get('supported') != 'yes':
        return ()
    return _enum_values(element, 'sectype')


def _sev_limit(sev, tag):
    return xmlutil.optional_integer(xmlutil.text(sev, tag), SOURCE, f"sev {tag}")


def _host_model_features(root):
    for mode in root.findall('cpu/mode'):
        if mode.get('name') == 'host-model' and mode.get('supported') == 'yes':
            return frozenset(f.get('name') for f in mode.findall('feature')
                             if f.get('policy') == 'require' and f.get('name'))
    return frozenset()


def _tpm(tpm):
    """The vTPM models and versions of the emulator backend (swtpm), or none.

    libvirt before 8.6 lists no backendVersion: swtpm emulates both versions.
    """
    if tpm is None or tpm.get('supported') != 'yes' or \
            'emulator' not in _enum_values(tpm, 'backendModel'):
        return {}
    return {'tpm_models': _enum_values(tpm, 'model'),
            'tpm_versions': _enum_values(tpm, 'backendVersion') or ('1.2', '2.0')}
