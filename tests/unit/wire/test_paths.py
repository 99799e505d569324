"""[DEFAULT] state_path moves every path that lives under it; each stays settable alone."""

import pytest
from oslo_config import cfg

from agent import driver_opts, simulated
from agent.discovery import opts as discovery_opts
from scheduler.store import database
from wire import paths


@pytest.fixture
def conf():
    conf = cfg.ConfigOpts()
    discovery_opts.register_opts(conf)
    driver_opts.register_opts(conf)          # registers state_path too
    conf.register_opts(simulated.simulated_opts, group='agent')
    database.register_opts(conf)
    conf([], project='kvmfleet-test')
    return conf


def under(conf):
    return (database.default_connection(conf), conf.instances_path, conf.images_path,
            conf.agent.simulation_path)


def test_the_defaults_live_under_var_lib_kvmfleet(conf):
    assert under(conf) == ('sqlite:////var/lib/kvmfleet/kvmfleet.sqlite',
                           '/var/lib/kvmfleet/instances', '/var/lib/kvmfleet/images',
                           '/var/lib/kvmfleet/simulated')


def test_setting_state_path_moves_them_all(conf, tmp_path):
    conf.set_override('state_path', str(tmp_path))
    assert under(conf) == (f'sqlite:///{tmp_path}/kvmfleet.sqlite', f'{tmp_path}/instances',
                           f'{tmp_path}/images', f'{tmp_path}/simulated')
    assert driver_opts.config_from_conf(conf, 'kvm').instances_path == f'{tmp_path}/instances'


def test_a_path_set_alone_wins_over_state_path(conf, tmp_path):
    conf.set_override('state_path', str(tmp_path))
    conf.set_override('images_path', '/srv/images')
    conf.set_override('connection', 'postgresql+psycopg2://u@h/db', group='database')
    assert under(conf)[:3] == ('postgresql+psycopg2://u@h/db', f'{tmp_path}/instances',
                               '/srv/images')


def test_state_path_is_registered_on_the_global_conf_and_listed():
    assert 'state_path' in cfg.CONF
    assert [o.name for o in dict(paths.list_opts())['DEFAULT']] == ['state_path']
    assert paths.state_path_of(cfg.ConfigOpts()) == paths.DEFAULT_STATE_PATH
