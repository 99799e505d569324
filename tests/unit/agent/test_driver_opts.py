"""Driver options -> DriverConfig, with named errors."""

import pytest
from oslo_config import cfg

from agent import driver_opts
from agent.exceptions import InvalidConfig


@pytest.fixture
def conf():
    conf = cfg.ConfigOpts()
    import agent.discovery.opts as discovery_opts
    discovery_opts.register_opts(conf)
    driver_opts.register_opts(conf)
    conf([], project='kvmfleet-test')
    return conf


def test_defaults(conf):
    config = driver_opts.config_from_conf(conf)
    assert config == driver_opts.DriverConfig()
    assert config.instances_path == '/var/lib/kvmfleet/instances'


@pytest.mark.parametrize('detected, expected', [('kvm', 'kvm'), ('qemu', 'qemu')])
def test_auto_virt_type_takes_the_detected_one(conf, detected, expected):
    conf.set_override('virt_type', 'auto', group='libvirt')
    assert driver_opts.config_from_conf(conf, detected).virt_type == expected


def test_auto_without_detection_is_an_error(conf):
    conf.set_override('virt_type', 'auto', group='libvirt')
    with pytest.raises(InvalidConfig, match=r'\[libvirt\] virt_type'):
        driver_opts.config_from_conf(conf)


def test_custom_cpu_mode_needs_a_model(conf):
    conf.set_override('cpu_mode', 'custom', group='libvirt')
    with pytest.raises(InvalidConfig, match=r'\[libvirt\] cpu_model'):
        driver_opts.config_from_conf(conf)
    conf.set_override('cpu_model', 'Skylake-Server', group='libvirt')
    assert driver_opts.config_from_conf(conf).cpu_model == 'Skylake-Server'


@pytest.mark.parametrize('group, name, value', [
    ('libvirt', 'cpu_mode', 'host-copy'), ('libvirt', 'seclabel_model', 'smack'),
    ('agent', 'launch_timeout', 0.1)])
def test_out_of_range_values_are_rejected_by_oslo(conf, group, name, value):
    with pytest.raises(ValueError):
        conf.set_override(name, value, group=group)


def test_list_opts_names_every_group():
    groups = dict(driver_opts.list_opts())
    assert {opt.name for opt in groups['DEFAULT']} == {'instances_path', 'images_path'}
    assert {opt.name for opt in groups['libvirt']} == {'cpu_mode', 'cpu_model', 'seclabel_model'}
    assert {opt.name for opt in groups['agent']} == {
        'launch_timeout', 'vif_multiqueue_default', 'graceful_shutdown_timeout',
        'migration_uri', 'migration_data_uri', 'migration_timeout', 'migration_bandwidth'}


def test_migration_options_reach_the_config(conf):
    conf.set_override('migration_uri', 'qemu+tls://host-b/system', group='agent')
    conf.set_override('migration_data_uri', 'unix:///run/kvmfleet/migration.sock',
                      group='agent')
    conf.set_override('migration_timeout', 0.0, group='agent')
    conf.set_override('migration_bandwidth', 100, group='agent')
    config = driver_opts.config_from_conf(conf)
    assert (config.migration_uri, config.migration_data_uri, config.migration_timeout,
            config.migration_bandwidth) == (
        'qemu+tls://host-b/system', 'unix:///run/kvmfleet/migration.sock', 0.0, 100)
