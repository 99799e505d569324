"""SEV and SEV-ES guests take slots of two separate pools (wire/sev.py)."""

import dataclasses

import pytest

from scheduler.fitting import audit, reasons
from scheduler.fitting.policy import FitPolicy
from scheduler.fitting.summary import HostSummary, RequestNeeds
from scheduler.fitting.usage import HostUsage

from .builders import host, request
from .helpers import assigned, rejected

SEV, ES = request(1, 512).sev().build(), request(1, 512).sev('amd-sev-es').build()
EXPLICIT_SEV = request(1, 512).sev('amd-sev').build()


def sev_host(slots, es_slots):
    return host().cells(1, cores=2, shared_cores=2).sev(slots, es_slots).build()


@pytest.mark.parametrize('slots, es_slots, usage, spec, detail', [
    (1, 1, HostUsage(), ES, None),
    (1, 1, HostUsage(sev_used=1), ES, None),            # plain SEV guests do not take ES slots
    (1, 1, HostUsage(sev_es_used=1), SEV, None),        # nor ES guests plain ones
    (1, 1, HostUsage(sev_es_used=1), ES, "1 of 1 SEV-ES slots used, needs 1"),
    (1, 0, HostUsage(), ES, "0 of 0 SEV-ES slots used, needs 1"),
    (0, 4, HostUsage(), SEV, "0 of 0 SEV slots used, needs 1"),
    (0, 4, HostUsage(), EXPLICIT_SEV, "0 of 0 SEV slots used, needs 1"),
])
def test_each_model_counts_against_its_own_pool(slots, es_slots, usage, spec, detail):
    topology = sev_host(slots, es_slots)
    needs, summary = RequestNeeds.of(spec), HostSummary.of(topology, usage)
    if detail is None:
        result = assigned(topology, spec, usage)
        assert result.sev and result.sev_es == (spec is ES)
        assert needs.quick_reject(summary) is None
    else:
        result = rejected(topology, spec, usage)
        assert (result.reason, result.detail, result.shortfall) == (
            reasons.SEV_NO_SLOTS, detail, 1)
        assert needs.quick_reject(summary).reason == reasons.SEV_NO_SLOTS


def test_usage_counts_each_pool_and_releases_it():
    topology = sev_host(2, 2)
    es, plain = assigned(topology, ES), assigned(topology, SEV)
    usage = HostUsage().consume(es).consume(plain).consume(es)
    assert (usage.sev_used, usage.sev_es_used) == (1, 2)
    assert usage.release(es).release(es).release(plain) == HostUsage()


def test_audit_names_an_overfull_es_pool_only():
    topology = sev_host(1, 1)
    first, plain = assigned(topology, ES), assigned(topology, SEV)
    second = dataclasses.replace(first, instance='00000000-0000-4000-8000-000000000002')
    assert audit.overruns(topology, FitPolicy(), [first, plain]) == []
    assert audit.overruns(topology, FitPolicy(), [first, second, plain]) == [
        'host: 2 SEV-ES guests, 1 slots']
