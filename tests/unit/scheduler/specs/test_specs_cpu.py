"""CPU policy, dedicated mask, thread / emulator policies, realtime."""

import pytest

from tests.unit.scheduler.specs.helpers import assert_error, parse, request

ALL4 = frozenset(range(4))


@pytest.mark.parametrize('extra,image,policy,dedicated,thread', [
    ({}, None, 'shared', frozenset(), None),
    ({'hw:cpu_policy': 'shared'}, None, 'shared', frozenset(), None),
    ({'hw:cpu_policy': 'dedicated'}, None, 'dedicated', ALL4, 'prefer'),
    ({}, {'hw_cpu_policy': 'dedicated'}, 'dedicated', ALL4, 'prefer'),
    ({}, {'hw_cpu_policy': 'shared'}, 'shared', frozenset(), None),
    # A flavor 'dedicated' wins over whatever the image says (Nova).
    ({'hw:cpu_policy': 'dedicated'}, {'hw_cpu_policy': 'shared'}, 'dedicated', ALL4, 'prefer'),
    ({'hw:cpu_policy': 'dedicated'}, {'hw_cpu_policy': 'mixed'}, 'dedicated', ALL4, 'prefer'),
    ({'hw:cpu_policy': 'shared'}, {'hw_cpu_policy': 'shared'}, 'shared', frozenset(), None),
    ({'hw:cpu_policy': 'mixed', 'hw:cpu_dedicated_mask': '2-3'}, None,
     'mixed', frozenset({2, 3}), 'prefer'),
    ({'hw:cpu_policy': 'mixed', 'hw:cpu_dedicated_mask': '^0'}, None,
     'mixed', frozenset({1, 2, 3}), 'prefer'),
    ({'hw:cpu_policy': 'mixed', 'hw:cpu_dedicated_mask': '^0-2'}, {'hw_cpu_policy': 'shared'},
     'mixed', frozenset({3}), 'prefer'),
    ({'hw:cpu_policy': 'dedicated', 'hw:cpu_thread_policy': 'isolate'}, None,
     'dedicated', ALL4, 'isolate'),
    ({'hw:cpu_policy': 'dedicated'}, {'hw_cpu_thread_policy': 'require'},
     'dedicated', ALL4, 'require'),
    # Flavor 'prefer' is kept when the image asks for another policy (Nova).
    ({'hw:cpu_policy': 'dedicated', 'hw:cpu_thread_policy': 'prefer'},
     {'hw_cpu_thread_policy': 'isolate'}, 'dedicated', ALL4, 'prefer'),
    ({'hw:cpu_policy': 'dedicated', 'hw:cpu_thread_policy': 'isolate'},
     {'hw_cpu_thread_policy': 'isolate'}, 'dedicated', ALL4, 'isolate'),
    ({'hw:cpu_policy': 'dedicated', 'trait:HW_CPU_HYPERTHREADING': 'forbidden'}, None,
     'dedicated', ALL4, 'isolate'),
    ({'hw:cpu_policy': 'dedicated', 'trait:HW_CPU_HYPERTHREADING': 'required'}, None,
     'dedicated', ALL4, 'require'),
])
def test_cpu_policy_resolution(extra, image, policy, dedicated, thread):
    spec = parse(extra, image)
    assert (spec.cpu_policy, spec.dedicated_vcpus, spec.thread_policy) == (
        policy, dedicated, thread)
    assert spec.has_numa_topology == (policy != 'shared')


@pytest.mark.parametrize('extra,image,field,words', [
    ({'hw:cpu_policy': 'pinned'}, None, 'extra_specs.hw:cpu_policy', ("'pinned'", 'one of')),
    ({}, {'hw_cpu_policy': 'x'}, 'image_properties.hw_cpu_policy', ("'x'",)),
    ({'hw:cpu_policy': 'shared'}, {'hw_cpu_policy': 'dedicated'},
     'image_properties.hw_cpu_policy', ('hw:cpu_policy=shared',)),
    ({'hw:cpu_policy': 'shared'}, {'hw_cpu_policy': 'mixed'},
     'image_properties.hw_cpu_policy', ('hw:cpu_policy=shared',)),
    ({'hw:cpu_policy': 'mixed', 'hw:cpu_dedicated_mask': '1'}, {'hw_cpu_policy': 'dedicated'},
     'image_properties.hw_cpu_policy', ('hw:cpu_policy=mixed',)),
    ({'hw:cpu_thread_policy': 'isolate'}, None, 'extra_specs.hw:cpu_thread_policy',
     ('dedicated or mixed', 'shared')),
    ({}, {'hw_cpu_thread_policy': 'require'}, 'extra_specs.hw:cpu_thread_policy',
     ("'require'", 'dedicated or mixed')),
    ({'hw:cpu_policy': 'dedicated', 'hw:cpu_thread_policy': 'sometimes'}, None,
     'extra_specs.hw:cpu_thread_policy', ("'sometimes'",)),
    ({'hw:cpu_policy': 'dedicated', 'hw:cpu_thread_policy': 'isolate'},
     {'hw_cpu_thread_policy': 'require'}, 'image_properties.hw_cpu_thread_policy',
     ('hw:cpu_thread_policy=isolate',)),
    ({'hw:cpu_policy': 'dedicated', 'hw:cpu_thread_policy': 'isolate',
      'trait:HW_CPU_HYPERTHREADING': 'forbidden'}, None,
     'extra_specs.trait:HW_CPU_HYPERTHREADING', ('one or the other',)),
    ({'trait:HW_CPU_HYPERTHREADING': 'required'}, None, 'extra_specs.hw:cpu_thread_policy',
     ('dedicated or mixed',)),
    ({'hw:emulator_threads_policy': 'isolate'}, None, 'extra_specs.hw:emulator_threads_policy',
     ('dedicated or mixed',)),
    ({'hw:cpu_policy': 'dedicated', 'hw:emulator_threads_policy': 'own'}, None,
     'extra_specs.hw:emulator_threads_policy', ("'own'",)),
    ({'hw:cpu_policy': 'dedicated', 'hw:emulator_threads_policy': 'share'},
     {'hw_emulator_threads_policy': 'isolate'}, 'image_properties.hw_emulator_threads_policy',
     ('conflicts',)),
    ({'hw:cpu_policy': 'dedicated', 'hw:cpu_dedicated_mask': '0-1'}, None,
     'extra_specs.hw:cpu_dedicated_mask', ('mixed', 'dedicated')),
    ({'hw:cpu_dedicated_mask': '0-1'}, None, 'extra_specs.hw:cpu_dedicated_mask', ('mixed',)),
    ({'hw:cpu_policy': 'mixed'}, None, 'extra_specs.hw:cpu_dedicated_mask', ('required',)),
    ({'hw:cpu_policy': 'mixed', 'hw:cpu_dedicated_mask': '0-3'}, None,
     'extra_specs.hw:cpu_dedicated_mask', ('one shared', '4 of 4')),
    ({'hw:cpu_policy': 'mixed', 'hw:cpu_dedicated_mask': '^0-3'}, None,
     'extra_specs.hw:cpu_dedicated_mask', ('one dedicated', '0 of 4')),
    ({'hw:cpu_policy': 'mixed', 'hw:cpu_dedicated_mask': '2-5'}, None,
     'extra_specs.hw:cpu_dedicated_mask', ('[4, 5]', '4 vCPUs')),
    ({'hw:cpu_policy': 'mixed', 'hw:cpu_dedicated_mask': 'a-b'}, None,
     'extra_specs.hw:cpu_dedicated_mask', ("'a-b'",)),
    ({'hw:cpu_policy': 'mixed', 'hw:cpu_dedicated_mask': '1', 'hw:cpu_realtime': 'yes',
      'hw:cpu_realtime_mask': '^0'}, None, 'extra_specs.hw:cpu_dedicated_mask', ('not both',)),
    # The guest CPU topology (wire.guest_cpu): met exactly, or refused before any claim.
    ({'hw:cpu_sockets': '3'}, None, 'extra_specs.hw:cpu_sockets',
     ('hw:cpu_sockets=3', '4 vCPUs cannot be split')),
    ({'hw:cpu_sockets': '1'}, {'hw_cpu_sockets': '2'}, 'image_properties.hw_cpu_sockets',
     ("exceeds the flavor's hw:cpu_sockets=1",)),
])
def test_cpu_errors(extra, image, field, words):
    assert_error(request(extra, image), field, *words)


@pytest.mark.parametrize('extra,image,realtime', [
    ({'hw:cpu_realtime_mask': '^0'}, None, frozenset({1, 2, 3})),
    ({'hw:cpu_realtime_mask': '2-3'}, None, frozenset({2, 3})),
    # The image mask is used ahead of the flavor's (Nova).
    ({'hw:cpu_realtime_mask': '^0'}, {'hw_cpu_realtime_mask': '^0-1'}, frozenset({2, 3})),
    ({}, {'hw_cpu_realtime_mask': '3'}, frozenset({3})),
    # No mask: every vCPU is realtime, allowed once the emulator has a policy.
    ({'hw:emulator_threads_policy': 'isolate'}, None, ALL4),
    ({'hw:emulator_threads_policy': 'share'}, None, ALL4),
])
def test_realtime_masks(extra, image, realtime):
    spec = parse({'hw:cpu_policy': 'dedicated', 'hw:cpu_realtime': 'yes', **extra}, image)
    assert spec.realtime_vcpus == realtime and spec.dedicated_vcpus == ALL4


def test_mixed_realtime_mask_gives_the_dedicated_vcpus():
    spec = parse({'hw:cpu_policy': 'mixed', 'hw:cpu_realtime': 'true',
                  'hw:cpu_realtime_mask': '^0-1'})
    assert spec.dedicated_vcpus == spec.realtime_vcpus == frozenset({2, 3})


def test_image_realtime_mask_without_realtime_is_ignored():
    spec = parse({'hw:cpu_policy': 'dedicated'}, {'hw_cpu_realtime_mask': '^0'})
    assert spec.realtime_vcpus == frozenset()


@pytest.mark.parametrize('extra,image,field,words', [
    ({'hw:cpu_realtime': 'yes'}, None, 'extra_specs.hw:cpu_realtime',
     ('dedicated or mixed',)),
    ({'hw:cpu_policy': 'dedicated', 'hw:cpu_realtime': 'yes'}, None,
     'extra_specs.hw:cpu_realtime', ('non-realtime', 'emulator')),
    ({'hw:cpu_policy': 'dedicated', 'hw:cpu_realtime': 'yes', 'hw:cpu_realtime_mask': '0-3'},
     None, 'extra_specs.hw:cpu_realtime_mask', ('every one of the 4',)),
    ({'hw:cpu_policy': 'dedicated', 'hw:cpu_realtime': 'yes', 'hw:cpu_realtime_mask': '^0-3'},
     None, 'extra_specs.hw:cpu_realtime_mask', ('no realtime vCPU',)),
    ({'hw:cpu_policy': 'dedicated', 'hw:cpu_realtime': 'yes', 'hw:cpu_realtime_mask': '6'},
     None, 'extra_specs.hw:cpu_realtime_mask', ('[6]',)),
    ({'hw:cpu_policy': 'dedicated', 'hw:cpu_realtime': 'yes'}, {'hw_cpu_realtime_mask': '^x'},
     'image_properties.hw_cpu_realtime_mask', ("'^x'",)),
    ({'hw:cpu_policy': 'dedicated', 'hw:cpu_realtime': 'maybe'}, None,
     'extra_specs.hw:cpu_realtime', ('not a boolean',)),
    ({'hw:cpu_policy': 'dedicated', 'hw:cpu_realtime_mask': '^0'}, None,
     'extra_specs.hw:cpu_realtime_mask', ('without hw:cpu_realtime',)),
    ({'hw:cpu_policy': 'mixed', 'hw:cpu_realtime': 'yes', 'hw:cpu_realtime_mask': '0-3',
      'hw:emulator_threads_policy': 'isolate'}, None, 'extra_specs.hw:cpu_realtime_mask',
     ('one shared',)),
])
def test_realtime_errors(extra, image, field, words):
    assert_error(request(extra, image), field, *words)


@pytest.mark.parametrize('extra,emulator', [
    ({'hw:cpu_policy': 'dedicated'}, 'share'),
    ({'hw:cpu_policy': 'dedicated', 'hw:emulator_threads_policy': 'isolate'}, 'isolate'),
    ({'hw:cpu_policy': 'mixed', 'hw:cpu_dedicated_mask': '1',
      'hw:emulator_threads_policy': 'isolate'}, 'isolate'),
    ({'hw:emulator_threads_policy': 'share'}, 'share'),
])
def test_emulator_threads_policy(extra, emulator):
    assert parse(extra).emulator_threads_policy == emulator
