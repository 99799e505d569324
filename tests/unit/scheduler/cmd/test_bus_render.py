from scheduler.cmd.bus_render import _pages, assignment_lines, explain_text, make_room_lines


def test_assignment_lines_name_page_sizes_and_held_siblings():
    assignment = {
        'host': 'h', 'vcpus': 2, 'memory_mb': 2048, 'shared_cpus': [],
        'emulator_pcpus': [8], 'pci_devices': [],
        'cells': [{'guest_cell': 0, 'host_cell': 1, 'memory_mb': 2048,
                   'page_size_kb': 1048576, 'pinning': {'1': 6, '0': 4},
                   'shared_cpus': [], 'reserved_pcpus': [36, 38]}]}
    assert assignment_lines(assignment) == [
        'host h  vcpus 2  memory 2048 MiB',
        '  guest cell 0 -> host cell 1: 2048 MiB in 1G pages; pinned 0->4, 1->6; '
        'siblings held 36,38',
        '  emulator threads on 8',
    ]


def test_page_pools_use_short_size_labels():
    cell = {'pages': {'2048': {'free': 10, 'total': 16}, '1048576': {'free': 1, 'total': 2}}}
    assert _pages(cell) == '2M:10/16 1G:1/2'


def floating(host, instance):
    return {'host': host, 'instance': instance, 'vcpus': 1, 'memory_mb': 512, 'cells': [],
            'shared_cpus': [2], 'emulator_pcpus': [], 'pci_devices': []}


ROOM = {'found': True, 'target': 'h0', 'hosts_searched': 2, 'sets_tried': 3,
        'seconds': 0.0042, 'reason': None,
        'moves': [{'instance': 'vm-1', 'source': 'h0', 'destination': 'h1',
                   'assignment': floating('h1', 'vm-1')}],
        'assignments': [floating('h0', 'big')]}


def test_a_make_room_plan_reads_as_numbered_moves_then_the_request():
    assert make_room_lines(ROOM) == [
        'make room on h0: 1 live migration(s) (2 host(s), 3 set(s) tried in 4.2 ms)',
        '1. vm-1: h0 -> h1',
        '   host h1  vcpus 1  memory 512 MiB',
        '     floats on pCPUs 2',
        'then:',
        'big:',
        'host h0  vcpus 1  memory 512 MiB',
        '  floats on pCPUs 2',
    ]
    missing = dict(ROOM, found=False, moves=[], assignments=[], reason='no set of at most 3')
    assert make_room_lines(missing) == [
        'make room: no set of at most 3 (2 host(s), 3 set(s) tried in 4.2 ms)']
    answer = {'assignments': [], 'alternates': {}, 'make_room': dict(ROOM, moves=[])}
    assert explain_text(answer) == 'make room: no move needed, the request fits'
