"""Nova filter names in [filter_scheduler] enabled_filters: aliases of ours or refused by name."""

import pytest
from oslo_config import cfg

from scheduler.engine.opts import filter_names, settings_from_conf
from scheduler.filters.nova_names import (
    NOVA_ALIASES,
    NOVA_UNSUPPORTED,
    FilterNameError,
    resolve_filter_names,
)

KNOWN = filter_names()


@pytest.mark.parametrize('nova, ours', [
    ('ComputeFilter', 'enabled'),
    ('RamFilter', 'ram'),
    ('CoreFilter', 'vcpu'),
    ('NUMATopologyFilter', 'numa'),
    ('PciPassthroughFilter', 'pci'),
    ('AggregateInstanceExtraSpecsFilter', 'aggregate_extra_specs'),
    ('ServerGroupAffinityFilter', 'server_group_affinity'),
    ('ServerGroupAntiAffinityFilter', 'server_group_anti_affinity'),
])
def test_a_nova_name_is_our_filter_of_the_same_meaning(nova, ours):
    assert resolve_filter_names([nova], KNOWN) == (ours,)


def test_every_alias_names_an_installed_filter_and_no_name_is_both():
    assert set(NOVA_ALIASES.values()) <= KNOWN
    assert not set(NOVA_ALIASES) & set(NOVA_UNSUPPORTED)


def test_names_mix_keep_their_order_and_a_filter_named_twice_runs_once():
    names = ['ComputeFilter', 'numa', 'NUMATopologyFilter', 'pci']
    assert resolve_filter_names(names, KNOWN) == ('enabled', 'numa', 'pci')


@pytest.mark.parametrize('name', ['ImagePropertiesFilter', 'AvailabilityZoneFilter',
                                  'ComputeCapabilitiesFilter', 'DiskFilter'])
def test_a_nova_filter_we_lack_is_refused_naming_the_option(name):
    with pytest.raises(FilterNameError) as caught:
        resolve_filter_names(['ComputeFilter', name], KNOWN)
    message = str(caught.value)
    assert message.startswith('[filter_scheduler] enabled_filters: ')
    assert f'{name} is a Nova filter kvmfleet does not implement' in message


def test_an_unknown_name_lists_what_is_accepted():
    with pytest.raises(FilterNameError, match=r"'numa_topology' is not a filter .*"
                                              r"kvmfleet filters: .*numa.*Nova names: "):
        resolve_filter_names(['numa_topology'], KNOWN)


def test_settings_from_conf_resolves_the_option():
    conf = cfg.ConfigOpts()
    conf.register_opts([], group='filter_scheduler')
    settings_from_conf(conf)        # registers the options
    conf.set_override('enabled_filters', ['ComputeFilter', 'NUMATopologyFilter'],
                      group='filter_scheduler')
    assert settings_from_conf(conf).enabled_filters == ('enabled', 'numa')
    conf.set_override('enabled_filters', ['JsonFilter'], group='filter_scheduler')
    with pytest.raises(FilterNameError, match='JsonFilter'):
        settings_from_conf(conf)
