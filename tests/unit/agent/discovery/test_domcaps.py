"""Domain capabilities parsing: virt type, SEV, UEFI loaders, secure boot."""

import pytest

from agent.discovery.domcaps import parse_domain_capabilities
from agent.exceptions import HostXmlError
from tests.unit.agent.fakes import read

# file: virt type, machine, sev supported, maxGuests, maxESGuests, sev-snp, loaders,
# secure boot, uefi
CAPTURES = {
    'virtmanager_kvm-x86_64-domcaps-amd-sev.xml': (
        'kvm', 'pc-q35-6.2', True, 502, 7, False, 1, False, True),
    'virtmanager_kvm-x86_64-domcaps-latest.xml': (
        'kvm', 'pc-q35-9.0', False, None, None, False, 6, True, True),
    'kubevirt_domcapabilities_sevsnp.xml': (
        'kvm', 'pc-i440fx-6.0', True, 15, 15, True, 10, False, True),
}


@pytest.mark.parametrize('name', sorted(CAPTURES))
def test_every_capture(shared_fixtures, name):
    virt, machine, sev, max_guests, max_es, snp, loaders, secure, uefi = CAPTURES[name]
    caps = parse_domain_capabilities(read(shared_fixtures / 'domcaps' / name))
    assert (caps.virt_type, caps.machine, caps.arch) == (virt, machine, 'x86_64')
    assert (caps.sev_supported, caps.sev_max_guests, caps.sev_max_es_guests) == (
        sev, max_guests, max_es)
    assert caps.sev_snp_supported is snp
    assert len(caps.loaders) == loaders
    assert caps.secure_boot is secure
    assert caps.uefi is uefi
    assert caps.emulator == '/usr/bin/qemu-system-x86_64'


def test_fedora_loaders_and_firmware(shared_fixtures):
    caps = parse_domain_capabilities(read(
        shared_fixtures / 'domcaps' / 'virtmanager_kvm-x86_64-domcaps-latest.xml'))
    assert caps.firmware == ('efi',)
    assert caps.loaders[0] == '/usr/share/edk2/ovmf/OVMF_CODE_4M.secboot.qcow2'
    # host-model: 24 required flags are read, the disabled ones (hle, rtm) are not
    assert len(caps.host_model_features) == 24
    assert {'vmx', 'pdpe1gb', 'xsaves'} <= caps.host_model_features
    assert not {'hle', 'rtm'} & caps.host_model_features


def test_milan_host_model_features(shared_fixtures):
    caps = parse_domain_capabilities(read(
        shared_fixtures / 'domcaps' / 'virtmanager_kvm-x86_64-domcaps-amd-sev.xml'))
    assert caps.firmware == ()
    assert caps.loaders == ('/usr/share/OVMF/OVMF_CODE.fd',)


def _domcaps(os_part='', features=''):
    return (f"<domainCapabilities><domain>qemu</domain><arch>x86_64</arch>"
            f"<os supported='yes'>{os_part}</os><features>{features}</features>"
            f"</domainCapabilities>")


@pytest.mark.parametrize('loader, secure', [
    # a secure-boot build named by path, no 'secure' enum (older libvirt)
    ("<loader supported='yes'><value>/usr/share/OVMF/OVMF_CODE.secboot.fd</value></loader>",
     True),
    ("<loader supported='yes'><value>/usr/share/OVMF/OVMF_CODE.fd</value>"
     "<enum name='secure'><value>no</value></enum></loader>", False),
    ("<loader supported='yes'><value>/x.fd</value><enum name='secure'><value>yes</value>"
     "</enum></loader>", True),
    # an unsupported loader offers nothing, whatever it lists
    ("<loader supported='no'><value>/a.secboot.fd</value></loader>", False),
    ('', False),
])
def test_secure_boot_rule(loader, secure):
    assert parse_domain_capabilities(_domcaps(loader)).secure_boot is secure


def test_sev_supported_without_max_guests():
    caps = parse_domain_capabilities(_domcaps(features="<sev supported='yes'><cbitpos>47"
                                                       "</cbitpos></sev>"))
    assert caps.sev_supported and caps.sev_max_guests is None


SEV = ("<sev supported='yes'><cbitpos>51</cbitpos><reducedPhysBits>1</reducedPhysBits>"
       "<maxGuests>59</maxGuests><maxESGuests>450</maxESGuests></sev>")


def _launch_security(supported, *types):
    values = ''.join(f"<value>{t}</value>" for t in types)
    return (f"<launchSecurity supported='{supported}'><enum name='sectype'>{values}</enum>"
            "</launchSecurity>")


@pytest.mark.parametrize('features, snp, types', [
    # libvirt >= 10.5 on an SEV-SNP host (the form of libvirt's own amdsev test data)
    (SEV + _launch_security('yes', 'sev', 'sev-snp'), True, ('sev', 'sev-snp')),
    (SEV + _launch_security('yes', 'sev'), False, ('sev',)),             # SEV and SEV-ES only
    (SEV, False, ()),                                                    # libvirt < 10.5
    (SEV + _launch_security('no', 'sev', 'sev-snp'), False, ()),         # not supported: none
    ("<sev supported='no'/>" + _launch_security('yes', 'sev-snp'), False, ('sev-snp',)),
    (_launch_security('yes', 's390-pv'), False, ('s390-pv',)),
])
def test_sev_snp_support_from_the_launch_security_types(features, snp, types):
    caps = parse_domain_capabilities(_domcaps(features=features))
    assert (caps.sev_snp_supported, caps.launch_security) == (snp, types)


def test_no_loader_means_no_uefi():
    caps = parse_domain_capabilities(_domcaps())
    assert not caps.uefi and caps.virt_type == 'qemu'


@pytest.mark.parametrize('text, message', [
    ('<domainCapabilities>', 'not well-formed'),
    (_domcaps(features="<sev supported='yes'><maxGuests>many</maxGuests></sev>"),
     "sev maxGuests: 'many'"),
])
def test_malformed(text, message):
    with pytest.raises(HostXmlError, match=message):
        parse_domain_capabilities(text)


@pytest.mark.parametrize('name, models, versions', [
    ('virtmanager_kvm-x86_64-domcaps-latest.xml', ('tpm-tis', 'tpm-crb'), ('1.2', '2.0')),
    # libvirt before 8.6 lists no backendVersion: swtpm emulates both
    ('virtmanager_kvm-x86_64-domcaps-amd-sev.xml', ('tpm-tis', 'tpm-crb'), ('1.2', '2.0')),
])
def test_emulated_vtpm(shared_fixtures, name, models, versions):
    caps = parse_domain_capabilities(read(shared_fixtures / 'domcaps' / name))
    assert (caps.tpm_models, caps.tpm_versions) == (models, versions)


@pytest.mark.parametrize('tpm', [
    "<tpm supported='no'/>",
    "<tpm supported='yes'><enum name='model'><value>tpm-crb</value></enum>"
    "<enum name='backendModel'><value>passthrough</value></enum></tpm>",
])
def test_no_emulated_vtpm(tpm):
    caps = parse_domain_capabilities(f"<domainCapabilities><domain>kvm</domain>"
                                     f"<devices>{tpm}</devices></domainCapabilities>")
    assert (caps.tpm_models, caps.tpm_versions) == ((), ())
