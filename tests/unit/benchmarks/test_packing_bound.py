"""The LP-relaxation bound of benchmarks/packing_bound.py: exact on small cases, never
below what the engine places."""

import pytest

from benchmarks import bench_packing
from benchmarks.packing_bound import lp_bound
from tests.unit.scheduler.fitting.builders import host, request

G1, M2 = 1048576, 2048


@pytest.mark.parametrize('topology, spec, count, bound', [
    # 4 dedicated threads without SMT: two 2-vCPU pinned guests.
    (host('a').cells(1, cores=4, shared_cores=1).build(),
     request(2, 512).dedicated().build(), 5, 2),
    # isolate on SMT holds whole cores: 8 threads, 4 per 2-vCPU guest.
    (host('a').cells(1, cores=4, threads=2, shared_cores=1).build(),
     request(2, 512).dedicated().thread('isolate').build(), 5, 2),
    # 'large' may use either pool: 2 x 1G and 2 GiB of 2M pages.
    (host('a').cells(1, cores=4, shared_cores=1).pages({G1: 2, M2: 1024}).build(),
     request(1, 1024).numa(1).pages('large').build(), 9, 4),
    # 1G only: two.
    (host('a').cells(1, cores=4, shared_cores=1).pages({G1: 2, M2: 1024}).build(),
     request(1, 1024).numa(1).pages(G1).build(), 9, 2),
    # fewer asked than fit: the count bounds it.
    (host('a').cells(2, cores=4, shared_cores=1).build(),
     request(2, 512).dedicated().build(), 3, 3),
])
def test_bound_on_small_cases(topology, spec, count, bound):
    assert lp_bound([topology], [(spec, count)]) == pytest.approx(bound)


@pytest.mark.parametrize('mix', sorted(bench_packing.MIXES))
def test_the_engine_never_beats_the_bound(mix):
    hosts = bench_packing.fleet_hosts(2)
    names, specs = bench_packing.draw_stream(mix, 60, seed=4)
    kinds = bench_packing._kinds(names, specs)
    bound = lp_bound(hosts, [(spec, names.count(kind)) for kind, spec in kinds])
    placed, _ = bench_packing.run_stream(hosts, specs, bench_packing.EngineSettings())
    assert 0 < placed <= bound + 1e-6
