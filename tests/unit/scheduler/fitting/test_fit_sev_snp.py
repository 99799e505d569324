"""SEV-SNP guests need a host that offers SEV-SNP and take SEV-ES slots (wire/sev.py)."""

import dataclasses

import pytest

from scheduler.fitting import audit, reasons
from scheduler.fitting.policy import FitPolicy
from scheduler.fitting.summary import HostSummary, RequestNeeds
from scheduler.fitting.usage import HostUsage
from wire.sev import SEV_SNP

from .builders import host, request
from .helpers import assigned, rejected

SEV = request(1, 512).sev().build()
ES = request(1, 512).sev('amd-sev-es').build()
SNP = request(1, 512).sev(SEV_SNP).build()
UNSUPPORTED = "the host has no SEV-SNP support (0 SEV-SNP slots), needs 1"


def sev_host(slots, es_slots, snp):
    return host().cells(1, cores=2, shared_cores=2).sev(slots, es_slots, snp).build()


# slots, ES slots, SNP offered, usage, request, (reason, detail) or None when it fits
CASES = [
    (0, 1, True, HostUsage(), SNP, None),
    (4, 1, True, HostUsage(sev_used=4), SNP, None),      # plain SEV slots are another pool
    (0, 2, True, HostUsage(sev_es_used=1), SNP, None),
    (0, 1, True, HostUsage(sev_es_used=1), SNP,          # ES guests hold the slot SNP needs
     (reasons.SEV_NO_SLOTS, "1 of 1 SEV-ES/SNP slots used, needs 1")),
    (4, 0, True, HostUsage(), SNP,
     (reasons.SEV_NO_SLOTS, "0 of 0 SEV-ES/SNP slots used, needs 1")),
    (4, 4, False, HostUsage(), SNP, (reasons.SEV_SNP_UNSUPPORTED, UNSUPPORTED)),
    (0, 0, False, HostUsage(), SNP, (reasons.SEV_SNP_UNSUPPORTED, UNSUPPORTED)),  # support first
    (0, 1, True, HostUsage(sev_es_used=1), ES,           # SNP guests hold the slot ES needs
     (reasons.SEV_NO_SLOTS, "1 of 1 SEV-ES slots used, needs 1")),
    (0, 1, False, HostUsage(), ES, None),                # ES needs no SNP support
    (1, 1, True, HostUsage(sev_es_used=1), SEV, None),
]


@pytest.mark.parametrize('slots, es_slots, snp, usage, spec, refusal', CASES)
def test_snp_needs_support_and_an_es_slot(slots, es_slots, snp, usage, spec, refusal):
    """The exact fit and the quick reject agree, with the same reason and numbers."""
    topology = sev_host(slots, es_slots, snp)
    needs, summary = RequestNeeds.of(spec), HostSummary.of(topology, usage)
    if refusal is None:
        result = assigned(topology, spec, usage)
        assert (result.sev, result.sev_es, result.sev_snp) == (
            True, spec is not SEV, spec is SNP)
        assert needs.quick_reject(summary) is None
        return
    result = rejected(topology, spec, usage)
    assert (result.reason, result.detail, result.shortfall) == (*refusal, 1)
    quick = needs.quick_reject(summary)
    assert (quick.reason, quick.shortfall) == (refusal[0], 1)
    if refusal[0] == reasons.SEV_SNP_UNSUPPORTED:
        assert quick.detail == UNSUPPORTED


def test_snp_and_es_guests_share_one_pool_and_release_it():
    topology = sev_host(1, 2, True)
    snp, es, plain = assigned(topology, SNP), assigned(topology, ES), assigned(topology, SEV)
    usage = HostUsage().consume(snp).consume(es).consume(plain)
    assert (usage.sev_used, usage.sev_es_used) == (1, 2)
    assert rejected(topology, SNP, usage).reason == reasons.SEV_NO_SLOTS
    assert rejected(topology, ES, usage).reason == reasons.SEV_NO_SLOTS
    assert usage.release(snp).release(es).release(plain) == HostUsage()


def test_audit_counts_snp_guests_in_the_es_pool():
    topology = sev_host(1, 1, True)
    snp, es = assigned(topology, SNP), assigned(topology, ES)
    es = dataclasses.replace(es, instance='00000000-0000-4000-8000-000000000002')
    assert audit.overruns(topology, FitPolicy(), [snp]) == []
    assert audit.overruns(topology, FitPolicy(), [snp, es]) == [
        'host: 2 SEV-ES guests, 1 slots']


def test_audit_names_snp_guests_on_a_host_without_snp():
    snp = assigned(sev_host(0, 2, True), SNP)
    assert audit.overruns(sev_host(0, 2, False), FitPolicy(), [snp]) == [
        'host: 1 SEV-SNP guests, the host has no SEV-SNP support']
