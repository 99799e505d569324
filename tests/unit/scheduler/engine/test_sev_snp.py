"""Through the engine (index, summary filters, fit, explain, capacity): SEV-SNP guests go to
hosts that offer SEV-SNP and have an SEV-ES slot free; SEV-ES guests share those slots."""

from scheduler.engine.capacity import capacity
from scheduler.engine.fleet import FleetView
from scheduler.fitting.fit import fit
from scheduler.fitting.policy import FitPolicy
from scheduler.fitting.usage import HostUsage
from scheduler.moves import kind_for
from tests.unit.scheduler.helpers import engine, host, request

SNP = request(1, 512).sev('amd-sev-snp').build()
ES = request(1, 512).sev('amd-sev-es').build()
SNP_HOST = host('snp').cells(1, cores=2, shared_cores=2).sev(0, 1, snp=True).build()


def _fleet():
    return FleetView([host('plain').cells(1, cores=2, shared_cores=2).sev(4, 0).build(),
                      host('es-only').cells(1, cores=2, shared_cores=2).sev(0, 4).build(),
                      SNP_HOST])


def test_snp_guests_go_to_the_snp_host_only():
    placed = engine().place(SNP, _fleet(), ['a'])
    assert [(a.host, a.sev, a.sev_es, a.sev_snp) for a in placed.assignments] == [
        ('snp', True, True, True)]


def test_explain_names_each_reason_with_its_numbers():
    explanation = engine().explain(SNP, _fleet())
    assert explanation.fits == 1 and explanation.reasons == {'SEV_SNP_UNSUPPORTED': 2}
    assert sorted(miss.text for miss in explanation.nearest) == [
        'es-only: the host has no SEV-SNP support (0 SEV-SNP slots), needs 1',
        'plain: the host has no SEV-SNP support (0 SEV-SNP slots), needs 1']


def test_an_es_guest_holds_the_slot_an_snp_guest_needed():
    fleet = _fleet()
    fleet.apply(fit(SNP_HOST, HostUsage(), ES, FitPolicy(), 'es-1'))
    assert not engine().place(SNP, fleet, ['a']).assignments
    explanation = engine().explain(SNP, fleet)
    assert explanation.fits == 0
    assert explanation.reasons == {'SEV_SNP_UNSUPPORTED': 2, 'SEV_NO_SLOTS': 1}
    assert 'snp: 0 free SEV-ES/SNP slots, needs 1' in {m.text for m in explanation.nearest}


def test_capacity_counts_snp_guests_against_the_es_slots():
    snp = host('snp').cells(1, cores=4, shared_cores=4).sev(2, 3, snp=True).build()
    fleet = FleetView([snp, host('no-snp').cells(1, cores=4, shared_cores=4).sev(2, 3).build()])
    result, = capacity([request(1, 256).sev('amd-sev-snp').build()], fleet, engine())
    assert result.fits == 3         # the ES slots of the one SNP host; plain SEV slots unused
    assert result.stops == {'SEV_SNP_UNSUPPORTED': 1, 'SEV_NO_SLOTS': 1}


def test_snp_guests_move_cold_only():
    """Their memory is encrypted, as an SEV guest's: no live move."""
    assert kind_for(SNP.to_dict(), live=True) == 'cold'
    assert kind_for(request(1, 512).build().to_dict(), live=True) == 'live'
