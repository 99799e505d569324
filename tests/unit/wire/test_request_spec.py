import json

from wire.request_spec import GuestCell, PciRequest, PortRequest, RequestSpec, ServerGroup


def test_request_spec_round_trips_through_json():
    spec = RequestSpec(
        name='db', vcpus=4, memory_mb=4096, cpu_policy='dedicated',
        dedicated_vcpus=frozenset(range(4)), thread_policy='isolate',
        emulator_threads_policy='isolate', realtime_vcpus=frozenset({2, 3}),
        numa_cells=(GuestCell(0, (0, 1), 2048), GuestCell(1, (2, 3), 2048)),
        page_size=1048576,
        pci_requests=(PciRequest('nic', 1, '8086', '10ca', 'type-VF', 'required'),),
        ports=(PortRequest('direct', 'physnet1', vlan=100),),
        required_traits=frozenset({'HW_CPU_X86_AVX2'}), count=3, min_count=2,
        server_group=ServerGroup('g', 'anti-affinity'),
        extra_specs={'hw:cpu_policy': 'dedicated'})
    wire_form = json.loads(json.dumps(spec.to_dict()))
    assert wire_form['version'] == 1
    assert RequestSpec.from_dict(wire_form) == spec
    assert spec.has_numa_topology and spec.pinned


def test_plain_shared_spec_has_no_numa_topology():
    spec = RequestSpec(name='web', vcpus=2, memory_mb=1024)
    assert not spec.has_numa_topology and not spec.pinned
    assert RequestSpec.from_dict(spec.to_dict()) == spec
