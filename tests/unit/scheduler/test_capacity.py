"""capacity(): how many more of each shape fit, and what runs out first."""

from scheduler.capacity import capacity, shape_key
from scheduler.fleet import FleetView
from tests.unit.scheduler.helpers import engine, host, replace, request
from wire.request_spec import ServerGroup

PINNED2 = request(2, 1024, 'pinned').numa(1).dedicated().build()


def _fleet():
    # 2 hosts x 1 cell x 8 dedicated pCPUs, 16 GiB: 4 pinned 2-vCPU guests each.
    return FleetView([host(f'h{i}').cells(1, cores=8, shared_cores=1).build()
                      for i in range(2)])


def test_counts_per_shape_and_the_resource_that_runs_out():
    fleet = _fleet()
    results = capacity([PINNED2, request(1, 8192, 'fat').build()], fleet, engine())
    pinned, fat = results
    assert (pinned.request, pinned.fits, pinned.runs_out) == ('pinned', 8,
                                                              'NUMA_CELL_NO_FREE_PCPUS')
    assert pinned.stops == {'NUMA_CELL_NO_FREE_PCPUS': 2}
    assert 'needs 2' in pinned.example
    assert (fat.fits, fat.runs_out) == (4, 'HOST_RAM')


def test_the_fleet_is_not_changed():
    fleet = _fleet()
    before = [s for s in fleet.hosts()]
    capacity([PINNED2], fleet, engine())
    assert fleet.hosts() == before and all(a is b for a, b in zip(fleet.hosts(), before))


def test_same_shape_counted_once_whatever_its_name_or_count():
    twin = replace(PINNED2, name='twin', count=3)
    assert shape_key(twin) == shape_key(PINNED2)
    assert len(capacity([PINNED2, twin], _fleet(), engine())) == 1


def test_anti_affinity_allows_one_per_host():
    spec = replace(PINNED2, server_group=ServerGroup('g', 'anti-affinity'))
    result, = capacity([spec], _fleet(), engine())
    assert result.fits == 2 and result.runs_out == 'SERVER_GROUP_ANTI_AFFINITY'


def test_affinity_counts_one_host():
    spec = replace(PINNED2, server_group=ServerGroup('g', 'affinity'))
    result, = capacity([spec], _fleet(), engine())
    assert result.fits == 4


def test_disabled_hosts_count_nothing():
    fleet = _fleet()
    fleet.update_host(replace(fleet.state('h1').topology, enabled=False))
    result, = capacity([PINNED2], fleet, engine())
    assert result.fits == 4
    assert result.stops == {'HOST_DISABLED': 1, 'NUMA_CELL_NO_FREE_PCPUS': 1}
    assert result.to_dict()['stops'] == result.stops
