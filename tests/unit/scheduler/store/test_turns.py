"""Decisions in turn (scheduler/store/turns.py) on a real PostgreSQL: one scheduler's
turn at a time per schema, re-entrant, released when its holder's connection goes."""

import threading
import time

import pytest

from scheduler.store import Store
from scheduler.store.database import DatabaseSettings
from tests.conftest import postgres_schema

IN_TURN = DatabaseSettings(decisions_in_turn=True)


def waits_for(store, release):
    """A thread taking ``store``'s turn, and a list that gets, once it has the turn,
    whether ``release`` was set by then."""
    entered = []

    def take():
        with store.decision_turn():
            entered.append(release.is_set())

    thread = threading.Thread(target=take)
    thread.start()
    return thread, entered


@pytest.fixture
def schema(postgres_url):
    with postgres_schema(postgres_url, 'kvmfleet_turns_test') as url:
        yield url


@pytest.mark.postgres
def test_one_turn_at_a_time_among_schedulers_of_one_schema(schema):
    first, second = Store(schema, settings=IN_TURN), Store(schema, settings=IN_TURN)
    release = threading.Event()
    try:
        with first.decision_turn():
            with first.decision_turn():          # re-entrant: a claim inside a decision
                thread, entered = waits_for(second, release)
                time.sleep(0.5)
                assert entered == []             # the second waits...
            time.sleep(0.2)
            assert entered == []                 # ...until the outer turn ends
            release.set()
        thread.join(10)
        assert entered == [True]
    finally:
        first.dispose()
        second.dispose()


@pytest.mark.postgres
def test_a_turn_dies_with_its_holder(schema):
    first, second = Store(schema, settings=IN_TURN), Store(schema, settings=IN_TURN)
    try:
        turn = first.decision_turn()
        turn.__enter__()
        release = threading.Event()
        thread, entered = waits_for(second, release)
        time.sleep(0.3)
        assert entered == []
        release.set()
        first.dispose()                          # the connection goes: so does the lock
        thread.join(10)
        assert entered == [True]
    finally:
        second.dispose()


@pytest.mark.postgres
def test_other_schemas_and_stores_without_turns_never_wait(schema, postgres_url):
    with postgres_schema(postgres_url, 'kvmfleet_turns_other') as other_schema:
        first = Store(schema, settings=IN_TURN)
        other = Store(other_schema, settings=IN_TURN)
        untaken = Store(schema)                  # decisions_in_turn off
        try:
            with first.decision_turn():
                for store in (other, untaken):
                    release = threading.Event()
                    thread, entered = waits_for(store, release)
                    thread.join(10)
                    assert entered == [False]
        finally:
            for store in (first, other, untaken):
                store.dispose()


def test_sqlite_has_no_one_to_take_turns_with(tmp_path):
    store = Store(f"sqlite:///{tmp_path}/s.sqlite", settings=IN_TURN)
    try:
        with store.decision_turn(), store.decision_turn():
            pass
        assert not store._turns.enabled
    finally:
        store.dispose()
