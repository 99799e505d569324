"""Through the engine (index, summary filters, fit): SEV-ES guests go where ES slots are."""

from scheduler.engine.fleet import FleetView
from tests.unit.scheduler.helpers import engine, host, request


def _fleet():
    return FleetView([host('plain').cells(1, cores=2, shared_cores=2).sev(4, 0).build(),
                      host('es').cells(1, cores=2, shared_cores=2).sev(0, 1).build()])


def test_each_model_goes_to_a_host_with_a_slot_of_its_pool():
    fleet = _fleet()
    es = engine().place(request(1, 512).sev('amd-sev-es').build(), fleet, ['a'])
    assert [(a.host, a.sev, a.sev_es) for a in es.assignments] == [('es', True, True)]
    fleet.apply(es.assignments[0])
    plain = engine().place(request(1, 512).sev().build(), fleet, ['b'])
    assert [(a.host, a.sev_es) for a in plain.assignments] == [('plain', False)]


def test_explain_names_the_pool_that_is_full():
    fleet = _fleet()
    fleet.apply(engine().place(request(1, 512).sev('amd-sev-es').build(), fleet,
                               ['a']).assignments[0])
    explanation = engine().explain(request(1, 512).sev('amd-sev-es').build(), fleet)
    assert explanation.fits == 0 and explanation.reasons == {'SEV_NO_SLOTS': 2}
    texts = sorted(miss.text for miss in explanation.nearest)
    assert texts == ['es: 0 free SEV-ES slots, needs 1', 'plain: 0 free SEV-ES slots, needs 1']
