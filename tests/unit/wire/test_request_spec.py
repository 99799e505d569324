import dataclasses
import json

from scheduler.specs import parse_request
from tests import busfleet
from wire.request_spec import GuestCell, PciRequest, PortRequest, RequestSpec, ServerGroup


def rich_spec():
    return RequestSpec(
        name='db', vcpus=4, memory_mb=4096, cpu_policy='dedicated',
        dedicated_vcpus=frozenset(range(4)), thread_policy='isolate',
        emulator_threads_policy='isolate', realtime_vcpus=frozenset({2, 3}),
        numa_cells=(GuestCell(0, (0, 1), 2048), GuestCell(1, (2, 3), 2048)),
        page_size=1048576,
        pci_requests=(PciRequest('nic', 1, '8086', '10ca', 'type-VF', 'required'),),
        ports=(PortRequest('direct', 'physnet1', vlan=100),),
        required_traits=frozenset({'HW_CPU_X86_AVX2'}), count=3, min_count=2,
        server_group=ServerGroup('g', 'anti-affinity'),
        extra_specs={'hw:cpu_policy': 'dedicated'},
        aggregate_specs={'zone': ['a', 'b']}, image_properties={'hw_vif_multiqueue': 'true'})


def test_request_spec_round_trips_through_json():
    spec = rich_spec()
    wire_form = json.loads(json.dumps(spec.to_dict()))
    assert wire_form['version'] == 1
    assert RequestSpec.from_dict(wire_form) == spec
    assert spec.has_numa_topology and spec.pinned


def test_plain_shared_spec_has_no_numa_topology():
    spec = RequestSpec(name='web', vcpus=2, memory_mb=1024)
    assert not spec.has_numa_topology and not spec.pinned
    assert RequestSpec.from_dict(spec.to_dict()) == spec


def as_dataclasses_gives(spec):
    """to_dict as it was written first, on dataclasses.asdict."""
    data = dataclasses.asdict(spec)
    data['version'] = 1
    for key in ('dedicated_vcpus', 'realtime_vcpus', 'required_traits', 'forbidden_traits'):
        data[key] = sorted(data[key])
    data['numa_cells'] = [{'id': c.id, 'vcpus': list(c.vcpus), 'memory_mb': c.memory_mb}
                          for c in spec.numa_cells]
    return data


def test_to_dict_is_what_dataclasses_asdict_gives_with_no_value_shared():
    specs = [rich_spec(), RequestSpec(name='web', vcpus=2, memory_mb=1024),
             *(parse_request(r) for r in busfleet.MIXED)]
    for spec in specs:
        data = spec.to_dict()
        expected = as_dataclasses_gives(spec)
        assert data == expected and list(data) == list(expected)
        assert [type(data[k]) for k in data] == [type(expected[k]) for k in data]
        for key in ('aggregate_specs', 'extra_specs', 'image_properties'):
            assert data[key] is not getattr(spec, key)     # a copy: the spec stays frozen
    spec = rich_spec()      # deep: a list inside is copied too
    assert spec.to_dict()['aggregate_specs']['zone'] is not spec.aggregate_specs['zone']
