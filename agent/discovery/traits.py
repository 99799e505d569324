"""Host traits with os-traits names, from CPU flags and guest features.

Kept small on purpose: the CPU flags operators actually ask for.  The flags
are the host ``<cpu>`` ones, expanded with those its model implies
(baselineCPU, see discovery.host), plus the flags the domain capabilities'
host-model requires.
"""

from wire.guest_hardware import TPM_MODEL_TRAITS, TPM_VERSION_TRAITS, TRAIT_STATELESS_FIRMWARE
from wire.guest_quota import TRAIT_VIF_BANDWIDTH

CPU_FLAG_TRAITS = {
    'aes': 'HW_CPU_X86_AESNI',
    'avx': 'HW_CPU_X86_AVX',
    'avx2': 'HW_CPU_X86_AVX2',
    'avx512f': 'HW_CPU_X86_AVX512F',
    'avx512cd': 'HW_CPU_X86_AVX512CD',
    'avx512bw': 'HW_CPU_X86_AVX512BW',
    'avx512dq': 'HW_CPU_X86_AVX512DQ',
    'avx512vl': 'HW_CPU_X86_AVX512VL',
    'avx512vnni': 'HW_CPU_X86_AVX512VNNI',
    'bmi1': 'HW_CPU_X86_BMI',
    'bmi2': 'HW_CPU_X86_BMI2',
    'f16c': 'HW_CPU_X86_F16C',
    'fma': 'HW_CPU_X86_FMA3',
    'pclmuldq': 'HW_CPU_X86_CLMUL',
    'sha-ni': 'HW_CPU_X86_SHA',
    'sse4.1': 'HW_CPU_X86_SSE41',
    'sse4.2': 'HW_CPU_X86_SSE42',
    'ssse3': 'HW_CPU_X86_SSSE3',
    'svm': 'HW_CPU_X86_SVM',
    'vmx': 'HW_CPU_X86_VMX',
}

ARCH_TRAITS = {
    'x86_64': 'HW_ARCH_X86_64',
    'aarch64': 'HW_ARCH_AARCH64',
    'ppc64le': 'HW_ARCH_PPC64LE',
    'ppc64': 'HW_ARCH_PPC64',
    's390x': 'HW_ARCH_S390X',
}

TRAIT_HYPERTHREADING = 'HW_CPU_HYPERTHREADING'
TRAIT_SECURE_BOOT = 'COMPUTE_SECURITY_UEFI_SECURE_BOOT'
TRAIT_AMD_SEV = 'HW_CPU_X86_AMD_SEV'


def host_traits(capabilities, domcaps, sev_slots, vif_shaping=False):
    """The trait names this host offers (``vif_shaping``: its kernel can shape NICs)."""
    flags = set(capabilities.cpu_features)
    if domcaps is not None:
        flags |= domcaps.host_model_features
    traits = {CPU_FLAG_TRAITS[flag] for flag in flags if flag in CPU_FLAG_TRAITS}
    if capabilities.arch in ARCH_TRAITS:
        traits.add(ARCH_TRAITS[capabilities.arch])
    if any(cell.sibling_groups for cell in capabilities.cells):
        traits.add(TRAIT_HYPERTHREADING)
    if domcaps is not None and domcaps.secure_boot:
        traits.add(TRAIT_SECURE_BOOT)
    if domcaps is not None and domcaps.stateless_loader:
        # UEFI without a variable store (libvirt >= 8.6) from a plain (not secure-boot) loader
        traits.add(TRAIT_STATELESS_FIRMWARE)
    if sev_slots > 0:
        traits.add(TRAIT_AMD_SEV)
    if vif_shaping:
        traits.add(TRAIT_VIF_BANDWIDTH)
    if domcaps is not None:
        traits |= tpm_traits(domcaps)
    return frozenset(traits)


def tpm_traits(domcaps):
    """The vTPM traits (the names requests require: wire.guest_hardware)."""
    if not domcaps.tpm_versions or not domcaps.tpm_models:
        return set()
    return ({TPM_VERSION_TRAITS[v] for v in domcaps.tpm_versions if v in TPM_VERSION_TRAITS}
            | {TPM_MODEL_TRAITS[m] for m in domcaps.tpm_models if m in TPM_MODEL_TRAITS})
