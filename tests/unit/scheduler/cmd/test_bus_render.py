from scheduler.cmd.bus_render import _pages, assignment_lines


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
