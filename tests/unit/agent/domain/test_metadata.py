"""The kvmfleet metadata block: the agent's view of an instance, rebuilt from libvirt alone."""

import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from agent.domain import (
    DomainBuildError,
    MetadataError,
    has_metadata,
    parse_metadata,
    read_metadata,
)
from agent.domain import domain_xml as unchecked_domain_xml
from agent.domain.metadata import NAMESPACE
from agent.network import Bridge, HostNetworks
from tests.unit.agent.domain.builders import (
    KERNEL_IMAGE,
    UUID,
    assignment,
    cell,
    settings,
    spec_for,
)
from tests.unit.agent.domain.schema import validate_domain_xml
from wire.request_spec import CPU_DEDICATED, PortRequest


def domain_xml(*args, **kwargs):
    return validate_domain_xml(unchecked_domain_xml(*args, **kwargs))


def test_block_lives_in_the_kvmfleet_namespace():
    placed = assignment([cell(0, 0, (0, 1), 1024, page_kb=2048, pinning={0: 2, 1: 3})])
    spec = spec_for(placed, cpu_policy=CPU_DEDICATED, dedicated_vcpus=frozenset({0, 1}))
    domain = ET.fromstring(domain_xml(spec, placed, KERNEL_IMAGE, settings(), flavor='m1.pin'))
    block = domain.find(f"metadata/{{{NAMESPACE}}}instance")
    assert block is not None
    assert block.findtext(f"{{{NAMESPACE}}}uuid") == UUID
    assert block.findtext(f"{{{NAMESPACE}}}flavor") == 'm1.pin'
    assert block.findtext(f"{{{NAMESPACE}}}name") == 'vm-1'


def test_round_trip_gives_back_spec_and_assignment():
    placed = assignment([cell(0, 1, (0, 1), 1024, page_kb=2048, pinning={0: 2}, shared=(0,))],
                        shared=(0,), emulator=(0,))
    spec = spec_for(placed, cpu_policy='mixed', dedicated_vcpus=frozenset({0}),
                    ports=(PortRequest(physical_network='tenant', vlan=7),), multiqueue=True,
                    extra_specs={'hw:cpu_policy': 'mixed'})
    networks = HostNetworks({'tenant': Bridge('br-int', 'ovs')})
    assert parse_metadata(domain_xml(spec, placed, KERNEL_IMAGE,
                                     settings(networks=networks))) == (UUID, spec, placed)


@pytest.mark.parametrize('xml, message', [
    ('<domain><name>other</name></domain>', 'no kvmfleet'),
    ('<domain><metadata><other xmlns="urn:x"/></metadata></domain>', 'no kvmfleet'),
    (f'<domain><metadata><k:instance xmlns:k="{NAMESPACE}"><k:uuid>u</k:uuid>'
     '</k:instance></metadata></domain>', 'request-spec'),
    (f'<domain><metadata><k:instance xmlns:k="{NAMESPACE}"><k:uuid>u</k:uuid>'
     '<k:request-spec>{not json</k:request-spec><k:assignment>{}</k:assignment>'
     '</k:instance></metadata></domain>', 'unreadable'),
])
def test_missing_or_broken_metadata_is_named(xml, message):
    with pytest.raises(MetadataError, match=message):
        parse_metadata(xml)


def test_has_metadata_tells_kvmfleet_domains_apart():
    assert not has_metadata('<domain><name>x</name></domain>')
    placed = assignment(vcpus=1, memory_mb=256)
    assert has_metadata(domain_xml(spec_for(placed), placed, KERNEL_IMAGE, settings()))


def test_read_metadata_answers_ours_foreign_or_broken_in_one_call():
    assert read_metadata('<domain><name>x</name></domain>') is None
    placed = assignment(vcpus=1, memory_mb=256)
    uuid, spec, got = read_metadata(domain_xml(spec_for(placed), placed, KERNEL_IMAGE,
                                               settings()))
    assert (uuid, got, spec.name) == (UUID, placed, spec_for(placed).name)
    broken = (f'<domain><metadata><k:instance xmlns:k="{NAMESPACE}"><k:uuid>u</k:uuid>'
              '</k:instance></metadata></domain>')
    assert isinstance(read_metadata(broken), MetadataError)


@hypothesis_settings(max_examples=60, deadline=None)
@given(name=st.text(min_size=1, max_size=40), value=st.text(max_size=40))
def test_any_name_either_round_trips_or_is_refused_by_name(name, value):
    placed = assignment(vcpus=1, memory_mb=256)
    spec = spec_for(placed, name=name, extra_specs={'k': value})
    try:
        text = domain_xml(spec, placed, KERNEL_IMAGE, settings())
    except DomainBuildError as exc:
        assert 'spec.name' in str(exc)
        return
    assert parse_metadata(text)[1] == spec
