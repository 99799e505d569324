"""Shared helpers for the agent's unit tests."""

import os

import pytest

from tests.unit.agent.fakes import SHARED_FIXTURES


@pytest.fixture(scope='session')
def shared_fixtures():
    """../shared/fixtures (real libvirt captures); skip, or fail in CI, when absent."""
    if not SHARED_FIXTURES.is_dir():
        message = f"real libvirt captures not found at {SHARED_FIXTURES}"
        if os.environ.get('KVMFLEET_TEST_REQUIRE_SERVICES') == '1':
            pytest.fail(message)
        pytest.skip(message)
    return SHARED_FIXTURES
