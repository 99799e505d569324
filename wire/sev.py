"""AMD SEV and SEV-ES: two pools of guest slots, and the one rule both sides count with.

The processor splits its encryption ASIDs in two ranges: SEV-ES guests take
ASIDs 1 .. min_sev_asid - 1, plain SEV guests min_sev_asid .. max_sev_asid
(Linux KVM, arch/x86/kvm/svm/sev.c); libvirt reports the two counts as
``maxESGuests`` and ``maxGuests``.  So a guest takes one slot of its own
model's pool and never one of the other's: ``sev_slots`` counts plain SEV
guests, ``sev_es_slots`` SEV-ES guests.  The scheduler's fit and audit and the
agent's check all count through ``shortage``.

An SEV-ES guest differs from an SEV guest in its launch policy only: bit 2
(``ES``) of ``<launchSecurity type='sev'><policy>`` (AMD SEV API, guest policy).
"""

SEV, SEV_ES = 'amd-sev', 'amd-sev-es'
MODELS = (SEV, SEV_ES)
LABELS = {SEV: 'SEV', SEV_ES: 'SEV-ES'}
ES_POLICY_BIT = 0x0004


def model_of(assignment):
    """The memory encryption model an assignment holds a slot of (None: no encryption)."""
    if not assignment.sev:
        return None
    return SEV_ES if assignment.sev_es else SEV


def slots(host, model):
    """The host's guest slots of ``model``."""
    return host.sev_es_slots if model == SEV_ES else host.sev_slots


def shortage(used, host, model):
    """Why one more ``model`` guest does not fit when ``used`` slots are held, or None."""
    total = slots(host, model)
    if used < total:
        return None
    return f"{used} of {total} {LABELS[model]} slots used, needs 1"


def launch_policy(base_policy, model):
    """The guest policy for ``model``: the configured one with the ES bit set or cleared."""
    if model == SEV_ES:
        return base_policy | ES_POLICY_BIT
    return base_policy & ~ES_POLICY_BIT


def used(usage, model):
    """Slots of ``model`` a usage (scheduler HostUsage: sev_used, sev_es_used) holds."""
    return usage.sev_es_used if model == SEV_ES else usage.sev_used


def free(host, usage, model):
    """Free slots of ``model`` on ``host`` under ``usage`` (never negative)."""
    return max(0, slots(host, model) - used(usage, model))


def spec_model(spec):
    """The model a request asks for (None: no memory encryption)."""
    return (spec.mem_encryption_model or SEV) if spec.mem_encryption else None
