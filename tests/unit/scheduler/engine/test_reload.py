"""Weigher multipliers taken anew by a running engine (SIGHUP reload) and the reload hook."""

from oslo_config import cfg

from scheduler.cmd.service import reload_engine
from scheduler.engine.fleet import FleetView
from scheduler.engine.opts import register_opts
from tests.unit.scheduler.helpers import engine, host, request

SMALL = request(1, 1024).build()


def ram_fleet():
    """'big' has more free RAM than 'small': spreading picks big, packing small."""
    return FleetView([host('big').cells(1, cores=2, shared_cores=2, memory_mb=65536).build(),
                      host('small').cells(1, cores=2, shared_cores=2, memory_mb=8192).build()])


def chosen(placing, fleet):
    return placing.place(SMALL, fleet, ['vm']).assignments[0].host


def test_new_multipliers_change_the_next_decision():
    fleet = ram_fleet()
    placing = engine(weigher_multipliers={'ram': 1.0})
    assert chosen(placing, fleet) == 'big'
    placing.set_weigher_multipliers({'ram': -1.0})
    assert chosen(placing, fleet) == 'small'
    assert placing.settings.weigher_multipliers == {'ram': -1.0}


def test_a_zero_multiplier_removes_the_weigher_and_a_new_one_adds_it():
    placing = engine(weigher_multipliers={'ram': 1.0, 'cpu': 0.0})
    placing.set_weigher_multipliers({'ram': 0.0, 'cpu': 2.0})
    assert [(w.name, m) for w, m in placing.weighers] == [('cpu', 2.0)]


class ManagerStub:
    def __init__(self, placing):
        self.engine = placing


def test_the_reload_hook_reads_the_options_and_leaves_other_settings():
    conf = cfg.ConfigOpts()
    register_opts(conf)
    conf([], project='kvmfleet-test')
    placing = engine(fit_candidates=3)
    hook = reload_engine(ManagerStub(placing), conf)
    conf.set_override('ram_weight_multiplier', -2.0, group='filter_scheduler')
    hook({('filter_scheduler', 'ram_weight_multiplier'): (1.0, -2.0)})
    assert placing.settings.weigher_multipliers['ram'] == -2.0
    assert placing.settings.fit_candidates == 3
    assert chosen(placing, ram_fleet()) == 'small'
