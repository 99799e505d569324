import re

from dashboard import cells
from tests.unit.dashboard.fixtures import HOSTILE, host_detail


def states(svg):
    return {int(p): s for p, s in re.findall(r'data-pcpu="(\d+)" data-state="(\w+)"', svg)}


def test_cores_group_siblings_and_leave_lone_threads_alone():
    cell = {'cpus': [0, 1, 2, 3, 4], 'shared_cpus': [8], 'siblings': [[0, 1], [2, 3], [8, 9]]}
    assert cells.cores(cell) == [[0, 1], [2, 3], [4], [8]]


def test_each_thread_says_what_holds_it():
    detail = host_detail()
    topology = detail['topology']
    held = cells.holders(topology)
    svg = cells.cell_svg(topology['cells'][0], held,
                         cells.instance_colours(topology['instances']))
    assert states(svg) == {0: 'pinned', 1: 'isolate', 2: 'pinned', 3: 'isolate',
                           4: 'emulator', 5: 'free', 6: 'free', 7: 'free', 8: 'shared',
                           9: 'shared'}
    assert 'pCPU 2: vCPU 1 of &lt;script&gt;' in svg and '<script>' not in svg
    assert svg.count('<g class="core"') == 6     # 4 sibling pairs, 2 lone shared pCPUs


def test_focus_greys_other_instances():
    detail = host_detail()
    topology = detail['topology']
    svg = cells.cell_svg(topology['cells'][0], cells.holders(topology),
                         cells.instance_colours(topology['instances']), focus='another')
    assert {s for p, s in states(svg).items() if p < 5} == {'other'}


def test_vfs_are_grouped_by_their_pf_with_their_holder():
    detail = host_detail()
    topology = detail['topology']
    [(pf, vfs)] = cells.vfs_by_pf(topology, 0)
    assert pf['address'] == '0000:81:00.0' and len(vfs) == 2
    topology['instances'][0]['assignment']['pci_devices'] = [
        {'address': vfs[0]['address'], 'host_cell': 0, 'request': 'port:0',
         'physical_network': 'physnet1'}]
    table = cells.vf_table(topology, 0)
    assert 'class="vf used"' in table and 'class="vf free"' in table
    assert f"<title>{vfs[0]['address']}: &lt;script&gt;alert(1)" in table
    assert HOSTILE not in table


def test_the_cells_section_draws_every_cell_with_its_pages():
    section = cells.cells_section(host_detail())
    assert section.count('<section class="cell"') == 2
    assert 'cell 0: 3 of 8 dedicated pCPUs free' in section
    assert '<td>2M</td><td>1024</td><td>512</td>' in section
