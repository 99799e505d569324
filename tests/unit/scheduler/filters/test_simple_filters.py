"""enabled, traits, secure boot, image: pass or a named reason."""

import pytest

from scheduler.filters import base
from scheduler.filters.enabled import EnabledFilter
from scheduler.filters.image import ImageFilter
from scheduler.filters.secure_boot import SecureBootFilter
from scheduler.filters.traits import TraitsFilter
from tests.unit.scheduler.helpers import replace, request, state_of, two_socket

PLAIN = request().build()


@pytest.mark.parametrize('enabled, up, reason', [
    (True, True, None),
    (False, True, base.HOST_DISABLED),
    (True, False, base.HOST_DOWN),
    (False, False, base.HOST_DISABLED),
])
def test_enabled_filter(enabled, up, reason):
    state = state_of(two_socket('a', enabled=enabled, up=up))
    verdict = EnabledFilter().host_passes(state, PLAIN)
    assert (verdict and verdict.reason) == reason
    if verdict:
        assert verdict.host == 'a'


@pytest.mark.parametrize('host_traits, required, forbidden, reason, words', [
    ({'A', 'B'}, {'A'}, set(), None, None),
    ({'A'}, {'A', 'B'}, set(), base.TRAIT_MISSING, 'B'),
    ({'A', 'C'}, set(), {'C'}, base.TRAIT_FORBIDDEN, 'C'),
    ({'A'}, set(), {'C'}, None, None),
    (set(), set(), set(), None, None),
])
def test_traits_filter(host_traits, required, forbidden, reason, words):
    spec = replace(PLAIN, required_traits=frozenset(required),
                   forbidden_traits=frozenset(forbidden))
    state = state_of(two_socket('a', traits=frozenset(host_traits)))
    verdict = TraitsFilter().host_passes(state, spec)
    assert (verdict and verdict.reason) == reason
    if words:
        assert words in verdict.detail


def test_traits_filter_steps_aside_without_traits():
    assert not TraitsFilter().applies(PLAIN)
    assert TraitsFilter().applies(replace(PLAIN, forbidden_traits=frozenset({'X'})))


@pytest.mark.parametrize('policy, host_secure_boot, reason', [
    ('required', True, None),
    ('required', False, base.SECURE_BOOT_UNSUPPORTED),
    ('optional', False, None),
    ('optional', True, None),
    ('disabled', False, None),
])
def test_secure_boot_filter(policy, host_secure_boot, reason):
    spec = replace(PLAIN, secure_boot=policy)
    state = state_of(two_socket('a', secure_boot=host_secure_boot))
    verdict = SecureBootFilter().host_passes(state, spec)
    assert (verdict and verdict.reason) == reason
    assert SecureBootFilter().applies(spec) == (policy == 'required')


@pytest.mark.parametrize('image, host_images, reason', [
    ('cirros', frozenset({'cirros', 'debian'}), None),
    ('cirros', frozenset({'debian'}), base.IMAGE_MISSING),
    ('cirros', None, None),                       # a host that reports no images: any
    (None, frozenset(), None),                    # no image asked: the agent's default
])
def test_image_filter(image, host_images, reason):
    spec = replace(PLAIN, image=image)
    state = state_of(two_socket('a', images=host_images))
    plugin = ImageFilter()
    verdict = plugin.host_passes(state, spec) if plugin.applies(spec) else None
    assert (verdict and verdict.reason) == reason
    if verdict:
        assert verdict.detail == 'image cirros is not on the host'
