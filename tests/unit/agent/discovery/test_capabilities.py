"""Host capabilities parsing, on every real capture and on hand-written edge cases."""

import pytest

from agent.discovery.capabilities import parse_capabilities
from agent.exceptions import HostXmlError
from tests.unit.agent.fakes import read
from wire.cpuset import parse_cpuset

# file: (arch, {cell id: cpus}, {cell id: memory KiB or None}, {cell id: pages})
CAPTURES = {
    'vdsm_caps_libvirt_multiqemu.xml': (
        'x86_64', {0: '0-5,12-17', 1: '6-11,18-23'},
        {0: 33444704, 1: 33554432},
        {0: {4: 8361176, 2048: 0}, 1: {4: 8388608, 2048: 0}}),
    'vdsm_caps_libvirt_intel_E5649.xml': (
        'x86_64', {0: '0,2,4,6,8,10,12,14,16,18,20,22', 1: '1,3,5,7,9,11,13,15,17,19,21,23'},
        {0: None, 1: None}, {0: {}, 1: {}}),
    'vdsm_caps_libvirt_amd_6274.xml': (
        'x86_64', {0: '0-7', 1: '8-15', 2: '16-23', 3: '24-31'},
        {0: None, 1: None, 2: None, 3: None},
        {0: {4: 2500, 2048: 100}, 1: {4: 2, 2048: 1}, 2: {4: 0, 2048: 0},
         3: {4: 2500, 2048: 100}}),
    'vdsm_caps_libvirt_ibm_S822L_le.xml': (
        'ppc64le', {0: '0,8,16,24,32', 1: '40,48,56,64,72', 16: '80,88,96,104,112',
                    17: '120,128,136,144,152'},
        {0: 67108864, 1: 67108864, 16: 67108864, 17: 67108864},
        {n: {64: 1048576, 16384: 0} for n in (0, 1, 16, 17)}),
    'virtmanager_kvm-aarch64.xml': (
        'aarch64', {0: '0-79', 1: '80-159'}, {0: 263763320, 1: 262082520},
        {0: {4: 65940830, 64: 0, 2048: 0, 32768: 0, 1048576: 0},
         1: {4: 65520630, 64: 0, 2048: 0, 32768: 0, 1048576: 0}}),
    'virtmanager_kvm-ppc64le.xml': (
        'ppc64le', {0: '0-47', 1: '48-95'}, {0: 33364032, 1: 33354368},
        {0: {64: 521313, 16384: 0, 16777216: 0}, 1: {64: 521162, 16384: 0, 16777216: 0}}),
    'virtmanager_kvm-x86_64.xml': (
        'x86_64', {0: '0-7'}, {0: 32731708}, {0: {4: 8182927, 2048: 0, 1048576: 0}}),
    'virttuner_caps_cascadelake_2socket.xml': (
        'x86_64', {0: '0-23,48-71', 1: '24-47,72-95'}, {0: 32646592, 1: 32982940},
        {0: {4: 8161648, 2048: 0, 1048576: 0}, 1: {4: 8245735, 2048: 0, 1048576: 0}}),
    'libvirt_vircaps-x86_64-resctrl-amd.xml': (
        'x86_64', {0: '0-15,32-47', 1: '16-31,48-63'}, {0: 1048576, 1: 2097152},
        {0: {4: 2048, 2048: 4096, 1048576: 6144}, 1: {4: 4096, 2048: 6144, 1048576: 8192}}),
}


def _caps(shared_fixtures, name):
    return parse_capabilities(read(shared_fixtures / 'capabilities' / name))


@pytest.mark.parametrize('name', sorted(CAPTURES))
def test_cells_cpus_memory_and_pages_of_every_capture(shared_fixtures, name):
    arch, cpus, memory, pages = CAPTURES[name]
    caps = _caps(shared_fixtures, name)
    assert caps.arch == arch
    assert [cell.id for cell in caps.cells] == list(cpus)
    for cell in caps.cells:
        assert cell.online_cpu_ids == parse_cpuset(cpus[cell.id]), cell.id
        assert cell.memory_kb == memory[cell.id], cell.id
        assert cell.pages == pages[cell.id], cell.id


@pytest.mark.parametrize('name', sorted(CAPTURES))
def test_every_cpu_is_in_its_own_sibling_set_within_one_cell(shared_fixtures, name):
    caps = _caps(shared_fixtures, name)
    for cell in caps.cells:
        for cpu in cell.cpus:
            assert cpu.id in cpu.siblings
            assert cpu.online and cpu.socket_id is not None
        groups = cell.sibling_groups
        assert len(set().union(*groups)) == sum(len(g) for g in groups)  # disjoint


@pytest.mark.parametrize('name, cpu, siblings, groups_per_cell', [
    ('vdsm_caps_libvirt_multiqemu.xml', 0, {0, 12}, 6),
    ('vdsm_caps_libvirt_intel_E5649.xml', 2, {2, 14}, 6),
    ('vdsm_caps_libvirt_amd_6274.xml', 1, {0, 1}, 4),          # range syntax '0-1'
    ('virtmanager_kvm-ppc64le.xml', 13, set(range(8, 16)), 6),  # SMT8, '8-15'
    ('virtmanager_kvm-x86_64.xml', 5, {1, 5}, 4),
    ('virttuner_caps_cascadelake_2socket.xml', 48, {0, 48}, 24),
    ('libvirt_vircaps-x86_64-resctrl-amd.xml', 33, {1, 33}, 16),
    ('virtmanager_kvm-aarch64.xml', 7, {7}, 0),                 # no SMT
    ('vdsm_caps_libvirt_ibm_S822L_le.xml', 120, {120}, 0),      # SMT off
])
def test_siblings_from_lists_and_ranges(shared_fixtures, name, cpu, siblings, groups_per_cell):
    caps = _caps(shared_fixtures, name)
    found = [c for cell in caps.cells for c in cell.cpus if c.id == cpu]
    assert found and found[0].siblings == frozenset(siblings)
    assert all(len(cell.sibling_groups) == groups_per_cell for cell in caps.cells)


def test_sparse_power_cells_carry_matching_socket_ids(shared_fixtures):
    caps = _caps(shared_fixtures, 'vdsm_caps_libvirt_ibm_S822L_le.xml')
    assert {cell.id: {cpu.socket_id for cpu in cell.cpus} for cell in caps.cells} == {
        0: {0}, 1: {1}, 16: {16}, 17: {17}}
    assert caps.cpu_model == 'POWER8'


def test_westmere_core_ids_are_not_contiguous(shared_fixtures):
    caps = _caps(shared_fixtures, 'vdsm_caps_libvirt_intel_E5649.xml')
    assert [cpu.core_id for cpu in caps.cell(0).cpus][:6] == [0, 8, 2, 10, 1, 9]


def test_cascadelake_core_ids_have_gaps(shared_fixtures):
    caps = _caps(shared_fixtures, 'virttuner_caps_cascadelake_2socket.xml')
    cores = {cpu.core_id for cpu in caps.cell(0).cpus}
    assert cores == set(range(0, 7)) | set(range(9, 14)) | set(range(16, 22)) | set(
        range(24, 30))
    assert caps.cpu_model == 'Cascadelake-Server'


def test_amd_dies_and_sockets(shared_fixtures):
    caps = _caps(shared_fixtures, 'libvirt_vircaps-x86_64-resctrl-amd.xml')
    assert {cpu.die_id for cpu in caps.cell(0).cpus} == {0, 1, 2, 3}
    assert {cpu.die_id for cpu in caps.cell(1).cpus} == {4, 5, 6, 7}
    assert {cpu.socket_id for cell in caps.cells for cpu in cell.cpus} == {0, 1}
    assert caps.cpu_model is None


def test_opteron_cells_pair_into_sockets(shared_fixtures):
    caps = _caps(shared_fixtures, 'vdsm_caps_libvirt_amd_6274.xml')
    assert [{cpu.socket_id for cpu in cell.cpus} for cell in caps.cells] == [
        {0}, {0}, {1}, {1}]


def test_ampere_firmware_socket_ids_and_die_ids(shared_fixtures):
    caps = _caps(shared_fixtures, 'virtmanager_kvm-aarch64.xml')
    assert [{cpu.socket_id for cpu in cell.cpus} for cell in caps.cells] == [{56}, {76}]
    assert all(cpu.die_id == 0 for cell in caps.cells for cpu in cell.cpus)


# The socket of each cell, as the captures' <cpu socket_id=...> say (the AMD 6274 has two
# NUMA nodes per socket; POWER and ARM number their sockets as they please).
SOCKETS = {
    'vdsm_caps_libvirt_amd_6274.xml': {0: 0, 1: 0, 2: 1, 3: 1},
    'virttuner_caps_cascadelake_2socket.xml': {0: 0, 1: 1},
    'vdsm_caps_libvirt_ibm_S822L_le.xml': {0: 0, 1: 1, 16: 16, 17: 17},
    'virtmanager_kvm-aarch64.xml': {0: 56, 1: 76},
    'virtmanager_kvm-x86_64.xml': {0: 0},
}


@pytest.mark.parametrize('name', sorted(SOCKETS))
def test_socket_of_each_cell(shared_fixtures, name):
    caps = _caps(shared_fixtures, name)
    assert {cell.id: cell.socket for cell in caps.cells} == SOCKETS[name]


@pytest.mark.parametrize('cpus', [
    # a node spanning two sockets has no socket affinity (as in Nova)
    "<cpu id='0' socket_id='0' core_id='0' siblings='0'/>"
    "<cpu id='1' socket_id='1' core_id='0' siblings='1'/>",
    # no CPUs with topology: unknown (old libvirt; offline CPUs do not count)
    "<cpu id='0'/><cpu id='1'/>",
    # a bound keeps an absurd number from the wire
    "<cpu id='0' socket_id='65536' core_id='0' siblings='0'/>",
    '',     # a memory-only node
])
def test_cells_without_one_socket_report_none(cpus):
    caps = parse_capabilities(_document(f"<cell id='0'><cpus num='2'>{cpus}</cpus></cell>"))
    assert caps.cell(0).socket is None


def test_offline_cpus_do_not_decide_the_socket():
    caps = parse_capabilities(_document(
        "<cell id='0'><cpus num='2'><cpu id='0' socket_id='3' core_id='0' siblings='0'/>"
        "<cpu id='1'/></cpus></cell>"))
    assert caps.cell(0).socket == 3


def test_host_cpu_flags_are_read(shared_fixtures):
    caps = _caps(shared_fixtures, 'vdsm_caps_libvirt_multiqemu.xml')
    assert {'avx2', 'bmi2'} <= caps.cpu_features
    assert caps.cpu_vendor == 'Intel'


def _document(cells, arch='x86_64'):
    return (f"<capabilities><host><cpu><arch>{arch}</arch></cpu><topology>"
            f"<cells num='1'>{cells}</cells></topology></host></capabilities>")


def test_page_units_other_than_kib_are_converted():
    caps = parse_capabilities(_document(
        "<cell id='0'><memory unit='GiB'>2</memory><pages unit='MiB' size='2'>10</pages>"
        "<pages unit='GiB' size='1'>1</pages><cpus num='1'><cpu id='0' socket_id='0' "
        "core_id='0' siblings='0'/></cpus></cell>"))
    assert caps.cell(0).memory_kb == 2 * 1024 * 1024
    assert caps.cell(0).pages == {2048: 10, 1048576: 1}


def test_offline_cpus_are_listed_but_not_online():
    caps = parse_capabilities(_document(
        "<cell id='0'><cpus num='3'><cpu id='0' socket_id='0' core_id='0' siblings='0,2'/>"
        "<cpu id='1'/><cpu id='2' socket_id='0' core_id='0' siblings='0,2'/></cpus></cell>"))
    assert caps.cell(0).online_cpu_ids == {0, 2}
    assert caps.cell(0).sibling_groups == (frozenset({0, 2}),)


def test_cpus_without_any_topology_attributes_are_all_online():
    caps = parse_capabilities(_document(
        "<cell id='0'><cpus num='2'><cpu id='0'/><cpu id='1'/></cpus></cell>"))
    assert caps.cell(0).online_cpu_ids == {0, 1}


@pytest.mark.parametrize('document, message', [
    ('<capabilities><host>', 'not well-formed'),
    ('<capabilities/>', 'no <host>'),
    ('<capabilities><host><cpu/></host></capabilities>', 'no <host><cpu><arch>'),
    (_document(''), 'no NUMA cells'),
    (_document("<cell id='0'/><cell id='0'/>"), 'not unique'),
    (_document("<cell id='x'/>"), "cell id: 'x' is not an integer"),
    (_document("<cell id='0'><cpus><cpu id='3'/></cpus></cell>"
               "<cell id='1'><cpus><cpu id='3'/></cpus></cell>"),
     r'CPUs \[3\] are listed in more than one cell'),
    (_document("<cell id='0'><cpus><cpu id='0' siblings='3-1'/></cpus></cell>"),
     'cell 0 cpu 0 siblings'),
    (_document("<cell id='0'><pages unit='furlong' size='4'>1</pages></cell>"),
     "unknown unit 'furlong'"),
])
def test_malformed_capabilities_name_the_problem(document, message):
    with pytest.raises(HostXmlError, match=message) as caught:
        parse_capabilities(document)
    assert caught.value.source == 'capabilities'
