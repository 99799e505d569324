"""Invariants of the built topology for any valid split of CPUs and any reserve."""

from hypothesis import given, settings
from hypothesis import strategies as st

from agent.discovery.capabilities import parse_capabilities
from agent.discovery.opts import HostSettings, ReservedPages
from agent.discovery.topology import build_topology
from tests.unit.agent.fakes import DATA, read
from wire.files import parse_fleet

HOST = parse_capabilities(read(DATA / 'caps_2cell_smt_hugepages.xml'))
ALL_CPUS = sorted(cpu.id for cell in HOST.cells for cpu in cell.cpus)


@st.composite
def host_settings(draw):
    roles = draw(st.lists(st.sampled_from(['dedicated', 'shared', 'host']),
                          min_size=len(ALL_CPUS), max_size=len(ALL_CPUS)))
    dedicated = frozenset(c for c, r in zip(ALL_CPUS, roles) if r == 'dedicated')
    shared = frozenset(c for c, r in zip(ALL_CPUS, roles) if r == 'shared')
    unset = draw(st.booleans())
    pages = draw(st.lists(st.tuples(st.sampled_from([(0, 2048, 1024), (0, 1048576, 2),
                                                     (1, 2048, 512)]),
                                    st.integers(0, 512)), unique_by=lambda t: t[0],
                          max_size=3))
    return HostSettings(
        dedicated_set=None if unset else dedicated, shared_set=None if unset else shared,
        reserved_host_memory_mb=draw(st.integers(0, 8192)),
        reserved_huge_pages=tuple(ReservedPages(node, size, min(count, most))
                                  for (node, size, most), count in pages))


@settings(max_examples=150, deadline=None)
@given(host_settings())
def test_topology_invariants(config):
    host = build_topology('h', HOST, (), None, config)
    guest = set()
    for cell in host.cells:
        caps_cell = HOST.cell(cell.id)
        assert cell.cpus | cell.shared_cpus <= caps_cell.online_cpu_ids
        assert not cell.cpus & cell.shared_cpus
        assert not guest & (cell.cpus | cell.shared_cpus)        # no CPU in two cells
        guest |= cell.cpus | cell.shared_cpus
        for group in cell.siblings:
            assert len(group) > 1 and group <= cell.cpus | cell.shared_cpus
        assert cell.hugepage_mb + cell.reserved_memory_mb >= sum(
            size * count for size, count in caps_cell.pages.items() if size > 4) // 1024
        assert all(count >= 0 for count in cell.pages.values())
    reserved_pages_mb = sum(r.size_kb * r.count // 1024 for r in config.reserved_huge_pages)
    assert sum(c.reserved_memory_mb for c in host.cells) == (
        config.reserved_host_memory_mb + reserved_pages_mb)
    if config.dedicated_set is None:
        assert guest == set(ALL_CPUS)
    [parsed] = parse_fleet({'version': 1, 'hosts': [host.to_dict()]})
    assert parsed == host
