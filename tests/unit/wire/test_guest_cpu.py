"""wire.guest_cpu: Nova's CPU topology keys, met exactly or refused naming the key."""

import pytest

from wire.errors import InvalidInput
from wire.guest_cpu import CpuTopology, guest_cpu_topology

CHOSEN = [
    # vcpus, guest cells, flavor extra specs, image properties, (sockets, cores, threads)
    (4, (), {}, {}, (1, 4, 1)),
    (4, (2, 2), {}, {}, (2, 2, 1)),                       # a socket per equal guest cell
    (6, (4, 2), {}, {}, (1, 6, 1)),                       # unequal cells: one socket
    (4, (2, 2), {'hw:cpu_sockets': '1'}, {}, (1, 4, 1)),
    (4, (2, 2), {'hw:cpu_threads': '2'}, {}, (2, 1, 2)),
    (4, (2, 2), {'hw:cpu_cores': '2'}, {}, (2, 2, 1)),
    (8, (), {'hw:cpu_sockets': '2', 'hw:cpu_threads': '2'}, {}, (2, 2, 2)),
    (4, (2, 2), {'hw:cpu_max_sockets': '1'}, {}, (1, 4, 1)),
    (8, (), {'hw:cpu_max_cores': '2'}, {}, (4, 2, 1)),
    (4, (), {}, {'hw_cpu_cores': '2', 'hw_cpu_threads': '2'}, (1, 2, 2)),
    (4, (), {'hw:cpu_sockets': '4'}, {'hw_cpu_sockets': '2'}, (2, 2, 1)),   # image wins
    (4, (), {'hw:cpu_max_sockets': '4'}, {'hw_cpu_max_sockets': '2', 'hw_cpu_sockets': '2'},
     (2, 2, 1)),
    (7, (), {'hw:cpu_sockets': 7}, {}, (7, 1, 1)),        # JSON numbers as Nova's strings
]


@pytest.mark.parametrize('vcpus, cells, flavor, image, expected', CHOSEN)
def test_the_topology_chosen(vcpus, cells, flavor, image, expected):
    assert guest_cpu_topology(vcpus, cells, flavor, image) == CpuTopology(*expected)


REFUSED = [
    (4, {'hw:cpu_sockets': '3'}, {},
     'extra_specs.hw:cpu_sockets: hw:cpu_sockets=3: 4 vCPUs cannot be split into sockets x '
     'cores x threads that way within the maxima 65536/65536/65536 (sockets/cores/threads)'),
    (4, {}, {'hw_cpu_threads': '3'},
     'image_properties.hw_cpu_threads: hw_cpu_threads=3: 4 vCPUs cannot be split'),
    (4, {'hw:cpu_sockets': '2'}, {'hw_cpu_sockets': '4'},
     "image_properties.hw_cpu_sockets: 4 exceeds the flavor's hw:cpu_sockets=2"),
    (4, {'hw:cpu_max_sockets': '2'}, {'hw_cpu_max_sockets': '4'},
     "image_properties.hw_cpu_max_sockets: 4 exceeds the flavor's hw:cpu_max_sockets=2"),
    (4, {'hw:cpu_max_sockets': '1', 'hw:cpu_sockets': '2'}, {},
     'extra_specs.hw:cpu_sockets: 2 exceeds the maximum of 1 sockets'),
    (8, {'hw:cpu_max_sockets': '1', 'hw:cpu_max_cores': '2', 'hw:cpu_max_threads': '2'}, {},
     'extra_specs.hw:cpu_max_sockets: 8 vCPUs do not fit any sockets x cores x threads '
     'within the maxima 1/2/2 (sockets/cores/threads)'),
    (4, {'hw:cpu_sockets': '²'}, {},
     "extra_specs.hw:cpu_sockets: '²' is not a positive integer of at most 6 digits"),
    (4, {'hw:cpu_cores': '0'}, {},
     "extra_specs.hw:cpu_cores: '0' is not a positive integer of at most 6 digits"),
    (4, {'hw:cpu_threads': '9' * 40}, {}, 'is not a positive integer of at most 6 digits'),
    (4, {'hw:cpu_max_threads': True}, {}, 'is not a positive integer'),
    (2 ** 63, {}, {}, 'vcpus: 9223372036854775808 is not 1..1048576'),
]


@pytest.mark.parametrize('vcpus, flavor, image, message', REFUSED)
def test_refused_with_the_key_and_the_rule(vcpus, flavor, image, message):
    with pytest.raises(InvalidInput) as caught:
        guest_cpu_topology(vcpus, (), flavor, image)
    assert message in str(caught.value)


def test_every_error_is_reported_at_once():
    with pytest.raises(InvalidInput) as caught:
        guest_cpu_topology(4, (), {'hw:cpu_sockets': 'x', 'hw:cpu_max_cores': '-1'}, {})
    assert [e.field for e in caught.value.errors] == ['extra_specs.hw:cpu_max_cores',
                                                      'extra_specs.hw:cpu_sockets']
