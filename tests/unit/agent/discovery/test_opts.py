"""Discovery options: registration, defaults and checking into HostSettings."""

import pytest
from oslo_config import cfg

from agent.discovery import opts
from agent.discovery.opts import ReservedPages, parse_reserved_huge_pages, settings_from_conf
from agent.exceptions import InvalidConfig


@pytest.fixture
def conf():
    private = cfg.ConfigOpts()
    opts.register_opts(private)
    private([], project='kvmfleet-test', default_config_files=[])
    return private


def test_defaults_follow_nova(conf):
    settings = settings_from_conf(conf)
    assert settings == opts.HostSettings()
    assert (settings.dedicated_set, settings.shared_set) == (None, None)
    assert settings.reserved_host_memory_mb == 512 and settings.virt_type == 'kvm'
    assert conf.libvirt.connection_uri == 'qemu:///system'


def test_options_are_read(conf):
    conf.set_override('cpu_dedicated_set', '2-7,^4', 'compute')
    conf.set_override('cpu_shared_set', '0-1', 'compute')
    conf.set_override('reserved_huge_pages', ['node:0,size:2048,count:64',
                                              'node:1,size:1GB,count:1'])
    conf.set_override('device_spec', ['{"vendor_id": "8086", "physical_network": "p1"}'],
                      'pci')
    conf.set_override('virt_type', 'qemu', 'libvirt')
    conf.set_override('num_memory_encrypted_guests', 4, 'libvirt')
    settings = settings_from_conf(conf)
    assert settings.dedicated_set == {2, 3, 5, 6, 7} and settings.shared_set == {0, 1}
    assert settings.reserved_huge_pages == (ReservedPages(0, 2048, 64),
                                            ReservedPages(1, 1048576, 1))
    assert settings.device_specs[0].physical_network == 'p1'
    assert (settings.virt_type, settings.num_memory_encrypted_guests) == ('qemu', 4)


def test_blank_cpu_set_is_unset(conf):
    conf.set_override('cpu_shared_set', '  ', 'compute')
    assert settings_from_conf(conf).shared_set is None


def test_bad_cpu_set_names_the_option(conf):
    conf.set_override('cpu_dedicated_set', '4-2', 'compute')
    with pytest.raises(InvalidConfig, match=r'^\[compute\] cpu_dedicated_set: .*range end'):
        settings_from_conf(conf)


def test_virt_type_choices_are_enforced(conf):
    with pytest.raises(ValueError):
        conf.set_override('virt_type', 'xen', 'libvirt')


@pytest.mark.parametrize('size, kb', [('2048', 2048), ('2MB', 2048), ('2M', 2048),
                                      ('1GB', 1048576), ('1GiB', 1048576), ('64K', 64)])
def test_reserved_page_sizes_with_units(size, kb):
    assert parse_reserved_huge_pages([{'node': '0', 'size': size, 'count': '1'}]) == (
        ReservedPages(0, kb, 1),)


@pytest.mark.parametrize('entry, rule', [
    ({'node': '0', 'size': '2048'}, 'missing count'),
    ({'node': '0', 'size': '2048', 'count': '1', 'pages': '3'}, "unknown keys \\['pages'\\]"),
    ({'node': '0', 'size': 'big', 'count': '1'}, "size 'big'"),
    ({'node': 'x', 'size': '2048', 'count': '1'}, 'non-negative integers'),
    ({'node': '0', 'size': '2048', 'count': '-1'}, 'non-negative integers'),
])
def test_bad_reserved_huge_pages(entry, rule):
    with pytest.raises(InvalidConfig, match=rule) as caught:
        parse_reserved_huge_pages([entry])
    assert caught.value.option == '[DEFAULT] reserved_huge_pages[0]'


def test_list_opts_names_every_group():
    groups = dict(opts.list_opts())
    assert {o.name for o in groups['compute']} == {'cpu_dedicated_set', 'cpu_shared_set'}
    assert {o.name for o in groups['DEFAULT']} == {'reserved_host_memory_mb',
                                                  'reserved_huge_pages'}
    assert {o.name for o in groups['pci']} == {'device_spec'}
    assert {o.name for o in groups['libvirt']} == {'connection_uri', 'virt_type',
                                                  'num_memory_encrypted_guests'}


def test_options_are_registered_on_the_global_conf():
    assert cfg.CONF.libvirt.virt_type in opts.VIRT_TYPES
