"""The flavors file loader and the shipped sample."""

import json
import pathlib

import pytest

from scheduler.specs import parse_request
from scheduler.specs.flavors import load_flavors, parse_flavors
from wire.files import FileFormatError

REPO = pathlib.Path(__file__).resolve().parents[4]
SAMPLE = REPO / 'etc' / 'kvmfleet' / 'flavors.yaml'
ALIAS = {'name': 'vf', 'vendor_id': '8086', 'product_id': '10ca', 'device_type': 'type-VF'}


def test_sample_flavors_load_and_parse():
    catalog = load_flavors(SAMPLE)
    assert {'m1.small', 'c1.pinned', 'c1.pinned-isolate', 'h1.hugepage-1g', 'n1.numa2',
            's1.sriov-igb', 's1.sriov-cx6', 'e1.sev', 'e1.secure-boot'} <= set(catalog.flavors)
    assert {(a.vendor_id, a.product_id) for a in catalog.aliases.values()} == {
        ('8086', '10ca'), ('15b3', '101e')}
    image = {'hw_firmware_type': 'uefi'}
    specs = {name: parse_request({'name': name, 'flavor': name, 'image_properties': image},
                                 catalog.aliases, catalog.flavors)
             for name in catalog.flavors}
    assert specs['m1.small'].numa_cells == ()
    assert specs['c1.pinned-isolate'].thread_policy == 'isolate'
    assert specs['h1.hugepage-1g'].page_size == 1048576
    assert [c.memory_mb for c in specs['n1.numa2'].numa_cells] == [8192, 8192]
    assert specs['s1.sriov-cx6'].pci_requests[0].numa_policy == 'required'
    assert specs['e1.sev'].mem_encryption and specs['e1.secure-boot'].secure_boot == 'required'


def test_json_flavors_file(tmp_path):
    path = tmp_path / 'flavors.json'
    path.write_text(json.dumps({'version': 1, 'pci_aliases': [json.dumps(ALIAS)],
                                'flavors': {'f': {'vcpus': 2, 'ram': 1024, 'extra_specs': {
                                    'pci_passthrough:alias': 'vf:1'}}}}))
    catalog = load_flavors(path)
    assert catalog.flavors['f']['vcpus'] == 2 and 'vf' in catalog.aliases


@pytest.mark.parametrize('document,words', [
    ([], ("expected an object",)),
    ({'version': 2, 'flavors': {}}, ('version: 2',)),
    ({'version': 1}, ('flavors: is required',)),
    ({'version': 1, 'flavors': {}, 'pci_aliases': {}}, ('pci_aliases: must be a list',)),
    ({'version': 1, 'flavors': {}, 'pci_aliases': [{'name': 'x'}]},
     ('pci_aliases[0].vendor_id',)),
    ({'version': 1, 'flavors': {'f': {'vcpus': 0, 'ram': 1}}}, ('flavors.f.vcpus',)),
    ({'version': 1, 'flavors': {'f': {'vcpus': 2, 'ram': 1024, 'extra_specs': {
        'hw:numa_nodes': '2', 'hw:numa_cpus.0': '0'}}}},
     ('flavors.f: extra_specs.hw:numa_cpus.1', 'is missing')),
    ({'version': 1, 'flavors': {'f': {'vcpus': 2, 'ram': 1024, 'extra_specs': {
        'pci_passthrough:alias': 'vf:1'}}}}, ("'vf' is not defined",)),
    ({'version': 1, 'flavors': {'f': 'big'}}, ('flavors.f',)),
])
def test_bad_flavor_documents(document, words):
    with pytest.raises(FileFormatError) as caught:
        parse_flavors(document, 'f.yaml')
    message = str(caught.value)
    assert message.startswith('f.yaml: ') and all(w in message for w in words), message


def test_image_rules_are_not_checked_on_a_flavor_alone():
    catalog = parse_flavors({'version': 1, 'flavors': {'sev': {
        'vcpus': 1, 'ram': 512, 'extra_specs': {'hw:mem_encryption': 'true'}}}})
    assert 'sev' in catalog.flavors


def test_unreadable_file_is_a_file_format_error(tmp_path):
    bad = tmp_path / 'flavors.yaml'
    bad.write_text('version: 1\nflavors: {a: [\n')
    with pytest.raises(FileFormatError, match='flavors.yaml: line'):
        load_flavors(bad)
    with pytest.raises(FileFormatError, match='cannot read'):
        load_flavors(tmp_path / 'missing.json')
