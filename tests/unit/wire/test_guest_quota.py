"""wire.guest_quota: Nova's libvirt quota: keys as libvirt tunables, or refusals naming the key."""

import pytest

from wire.errors import InvalidInput
from wire.guest_quota import GuestQuota, guest_quota


def test_no_quota_keys_no_tunables():
    assert guest_quota({'hw:cpu_policy': 'dedicated'}) == GuestQuota()


def test_each_kind_of_tunable():
    quota = guest_quota({
        'quota:cpu_quota': '-1', 'quota:cpu_shares': '2048', 'quota:cpu_period': 100000,
        'quota:disk_read_bytes_sec': '10485760', 'quota:disk_write_iops_sec': '500',
        'quota:disk_total_iops_sec_max': '2000'})
    assert quota.cputune == (('shares', 2048), ('period', 100000), ('quota', -1))
    assert quota.iotune == (('read_bytes_sec', 10485760), ('total_iops_sec_max', 2000),
                            ('write_iops_sec', 500))


@pytest.mark.parametrize('extra, field, rule', [
    ({'quota:cpu_shares': '1'}, 'extra_specs.quota:cpu_shares', "'1' is not an integer 2..262144"),
    ({'quota:cpu_period': '999'}, 'extra_specs.quota:cpu_period',
     "'999' is not an integer 1000..1000000"),
    ({'quota:cpu_quota': '500'}, 'extra_specs.quota:cpu_quota',
     "'500' is not an integer -1 or 1000..17592186044415"),
    ({'quota:disk_read_bytes_sec': '²'}, 'extra_specs.quota:disk_read_bytes_sec',
     "'²' is not an integer 1..9007199254740992"),
    ({'quota:disk_total_bytes_sec': '10', 'quota:disk_read_bytes_sec': '5'},
     'extra_specs.quota:disk_total_bytes_sec',
     'cannot be combined with disk_read_bytes_sec or disk_write_bytes_sec (libvirt)'),
    ({'quota:vif_inbound_peak': '10'}, 'extra_specs.quota:vif_inbound_peak',
     'needs quota:vif_inbound_average (the average rate libvirt requires)'),
    ({'quota:vif_outbound_average': '0'}, 'extra_specs.quota:vif_outbound_average',
     "'0' is not an integer 1..4294967295"),
    ({'quota:vif_inbound_average': '10', 'quota:vif_inbound_burst': '4194304'},
     'extra_specs.quota:vif_inbound_burst', "'4194304' is not an integer 1..4194303"),
    ({'quota:vif_inbound_floor': '10'}, 'extra_specs.quota:vif_inbound_floor',
     'not a quota kvmfleet applies (libvirt: cpu_shares, cpu_period, cpu_quota, disk_*, '
     'vif_*)'),
    ({'quota:cpu_limit': '1000'}, 'extra_specs.quota:cpu_limit',
     'not a quota kvmfleet applies (libvirt: cpu_shares, cpu_period, cpu_quota, disk_*, '
     'vif_*)'),
    ({'quota:memory_reservation': '10'}, 'extra_specs.quota:memory_reservation',
     'not a quota kvmfleet applies (libvirt: cpu_shares, cpu_period, cpu_quota, disk_*, '
     'vif_*)'),
])
def test_refusals(extra, field, rule):
    with pytest.raises(InvalidInput) as caught:
        guest_quota(extra)
    assert [(e.field, e.rule) for e in caught.value.errors] == [(field, rule)]


def test_nic_bandwidth_by_direction_and_the_trait_it_needs():
    quota = guest_quota({'quota:vif_inbound_average': '1024', 'quota:vif_inbound_peak': '2048',
                         'quota:vif_inbound_burst': '512', 'quota:vif_outbound_average': 256})
    assert quota.bandwidth == (
        ('inbound', (('average', 1024), ('burst', 512), ('peak', 2048))),
        ('outbound', (('average', 256),)))
    assert quota.required_traits == {'CUSTOM_KVMFLEET_VIF_BANDWIDTH'}
    assert guest_quota({'quota:cpu_shares': '100'}).required_traits == frozenset()
