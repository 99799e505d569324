"""AMD SEV, SEV-ES and SEV-SNP: two pools of guest slots, and the one rule both sides count with.

The processor splits its encryption ASIDs in two ranges: SEV-ES guests take
ASIDs 1 .. min_sev_asid - 1, plain SEV guests min_sev_asid .. max_sev_asid
(Linux KVM, arch/x86/kvm/svm/sev.c); libvirt reports the two counts as
``maxESGuests`` and ``maxGuests``.  An SEV-SNP guest is an SEV-ES guest to
KVM and draws from the same range (``sev_asid_new``: one joint SEV-ES/SEV-SNP
range unless the ``ciphertext_hiding_asids`` module parameter splits it, which
libvirt does not report, so that split is not modelled).  So there are two
pools: ``sev_slots`` counts plain SEV guests, ``sev_es_slots`` SEV-ES and
SEV-SNP guests together.  SEV-SNP also needs the host to offer it at all
(``sev_snp_supported``: libvirt >= 10.5 lists ``sev-snp`` among the
``<launchSecurity>`` types of its domain capabilities).  The scheduler's fit,
summary, index and audit and the agent's check all count through this module.

An SEV-ES guest differs from an SEV guest in its launch policy only: bit 2
(``ES``) of ``<launchSecurity type='sev'><policy>`` (AMD SEV API, guest policy).
An SEV-SNP guest has a launch security of its own, ``type='sev-snp'``, with a
64-bit SNP guest policy (SEV-SNP firmware ABI): bit 16 allows SMT on the host,
bit 17 is reserved and must be one, bit 19 would allow debugging.
"""

SEV, SEV_ES, SEV_SNP = 'amd-sev', 'amd-sev-es', 'amd-sev-snp'
MODELS = (SEV, SEV_ES, SEV_SNP)
POOLS = (SEV, SEV_ES)               # each slot pool, named by its first model
LABELS = {SEV: 'SEV', SEV_ES: 'SEV-ES', SEV_SNP: 'SEV-SNP'}
# The slots a model's guest takes, as a request's refusal names them.
SLOT_LABELS = {SEV: 'SEV', SEV_ES: 'SEV-ES', SEV_SNP: 'SEV-ES/SNP'}
ES_POLICY_BIT = 0x0004
SNP_POLICY_SMT = 1 << 16            # the guest may run on a host with SMT enabled
SNP_POLICY_RESERVED_ONE = 1 << 17   # reserved, must be one
SNP_POLICY = SNP_POLICY_SMT | SNP_POLICY_RESERVED_ONE     # 0x30000: no debug, no migration
SNP_UNSUPPORTED_DETAIL = "the host has no SEV-SNP support ({have} SEV-SNP slots), needs {need}"


def pool(model):
    """The slot pool a ``model`` guest takes: SEV, or SEV_ES for SEV-ES and SEV-SNP."""
    return SEV if model == SEV else SEV_ES


def model_of(assignment):
    """The memory encryption model an assignment holds a slot of (None: no encryption)."""
    if not assignment.sev:
        return None
    if assignment.sev_snp:
        return SEV_SNP
    return SEV_ES if assignment.sev_es else SEV


def assignment_fields(model):
    """The Assignment flags of a ``model`` guest (an SEV-SNP guest is an SEV-ES guest)."""
    return {'sev': model is not None, 'sev_es': model is not None and pool(model) == SEV_ES,
            'sev_snp': model == SEV_SNP}


def supported(host, model):
    """Whether ``host`` can run ``model`` guests at all, slots aside (SEV-SNP needs support)."""
    return model != SEV_SNP or host.sev_snp_supported


def unsupported(host, model):
    """Why ``host`` can never run a ``model`` guest, or None."""
    if supported(host, model):
        return None
    return SNP_UNSUPPORTED_DETAIL.format(have=0, need=1)


def slots(host, model):
    """The host's guest slots of ``model``'s pool (none for SEV-SNP on a host without it)."""
    if not supported(host, model):
        return 0
    return host.sev_es_slots if pool(model) == SEV_ES else host.sev_slots


def shortage(used, host, model):
    """Why one more ``model`` guest does not fit when ``used`` slots of its pool are held,
    or None (check ``unsupported`` first: it gives the better reason)."""
    total = slots(host, model)
    if used < total:
        return None
    return f"{used} of {total} {SLOT_LABELS[model]} slots used, needs 1"


def launch_policy(base_policy, model):
    """The SEV guest policy for ``model``: the configured one with the ES bit set or cleared
    (SEV-SNP has a policy of its own: SNP_POLICY)."""
    if model == SEV_ES:
        return base_policy | ES_POLICY_BIT
    return base_policy & ~ES_POLICY_BIT


def used(usage, model):
    """Slots of ``model``'s pool a usage (scheduler HostUsage: sev_used, sev_es_used) holds."""
    return usage.sev_es_used if pool(model) == SEV_ES else usage.sev_used


def free(host, usage, model):
    """Free slots for one more ``model`` guest on ``host`` under ``usage`` (never negative)."""
    return max(0, slots(host, model) - used(usage, model))


def spec_model(spec):
    """The model a request asks for (None: no memory encryption)."""
    return (spec.mem_encryption_model or SEV) if spec.mem_encryption else None
