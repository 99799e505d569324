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
    ({'quota:vif_inbound_average': '10'}, 'extra_specs.quota:vif_inbound_average',
     'NIC bandwidth is not applied by kvmfleet (libvirt needs the sch_htb and sch_sfq qdiscs, '
     'which hosts may lack)'),
    ({'quota:cpu_limit': '1000'}, 'extra_specs.quota:cpu_limit',
     'not a quota kvmfleet applies (libvirt: cpu_shares, cpu_period, cpu_quota, disk_*)'),
    ({'quota:memory_reservation': '10'}, 'extra_specs.quota:memory_reservation',
     'not a quota kvmfleet applies (libvirt: cpu_shares, cpu_period, cpu_quota, disk_*)'),
])
def test_refusals(extra, field, rule):
    with pytest.raises(InvalidInput) as caught:
        guest_quota(extra)
    assert [(e.field, e.rule) for e in caught.value.errors] == [(field, rule)]
