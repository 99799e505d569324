"""The hosts' change stamp (scheduler/store/changes.py): every write a view must follow
is found by the next ``host_changes``, on SQLite and PostgreSQL, whatever the commit order."""

import pytest
from sqlalchemy import update

from scheduler.store import models
from scheduler.store.changes import change_stamp
from tests.unit.scheduler.store.test_store import (  # noqa: F401  (fixtures)
    new_instance,
    pinned,
    postgres_store,
    store,
    topology,
)


def changed_names(store, since):  # noqa: F811
    horizon, rows = store.host_changes(since)
    return horizon, {name for name, _, _ in rows}


def test_nothing_changed_reads_nothing_new(store):  # noqa: F811
    """A heartbeat alone is no change.  On PostgreSQL, writes committed since the
    oldest transaction still running on the server may be read again (the overlap):
    never a host in a state the reader has not seen."""
    store.upsert_host(topology('a'), now=1.0)
    since = store.change_horizon()
    store.upsert_host(topology('a'), now=2.0)
    horizon, rows = store.host_changes(since)
    assert set(rows) <= {('a', 0, True)} and horizon >= since
    assert set(store.host_changes(horizon)[1]) <= {('a', 0, True)}


@pytest.mark.parametrize('write', ['claim', 'release', 'new host', 'new topology',
                                   'disable'])
def test_every_write_a_view_follows_is_read_once_past_the_horizon(store, write):  # noqa: F811
    for name in ('a', 'b'):
        store.upsert_host(topology(name), now=1.0)
    held = new_instance(store)
    store.claim(pinned(held, [0, 1], host='a'), 0)
    since = store.change_horizon()
    known = {(n, store.get_host(n).generation, True) for n in ('a', 'b')}
    if write == 'claim':
        store.claim(pinned(new_instance(store), [2, 3], host='a'), 1)
    elif write == 'release':
        store.release(held)
    elif write == 'new host':
        store.upsert_host(topology('c'), now=2.0)
    elif write == 'new topology':
        store.upsert_host(topology('b', cpus=range(4)), now=2.0)
    else:
        store.set_host_enabled('b', False, 'maintenance')
    horizon, rows = store.host_changes(since)
    expected = {'claim': 'a', 'release': 'a', 'new host': 'c', 'new topology': 'b',
                'disable': 'b'}[write]
    assert expected in {name for name, _, _ in rows}
    stored = store.get_host(expected)
    assert (expected, stored.generation, stored.enabled) in rows
    # seen once: the next look past the new horizon has nothing (SQLite), or only rows
    # already seen, while the overlap window is open (PostgreSQL)
    assert set(store.host_changes(horizon)[1]) <= known | set(rows)


@pytest.mark.postgres
@pytest.mark.parametrize('store', ['postgres'], indirect=True)
def test_a_change_committed_after_a_later_one_is_not_skipped(store):  # noqa: F811
    """Transaction 1 stamps host a first and commits last; a reader that saw transaction
    2's change in between (a later stamp) still finds a at its next look."""
    for name in ('a', 'b'):
        store.upsert_host(topology(name), now=1.0)
    since = store.change_horizon()
    hosts = models.Host.__table__
    with store.engine.connect() as first:
        first.begin()
        first.execute(update(hosts).where(hosts.c.name == 'a')
                      .values(generation=hosts.c.generation + 1, changed_seq=change_stamp()))
        with store.engine.begin() as second:      # a later transaction, committed first
            second.execute(update(hosts).where(hosts.c.name == 'b')
                           .values(generation=hosts.c.generation + 1,
                                   changed_seq=change_stamp()))
        horizon, names = changed_names(store, since)
        assert names == {'b'}                      # a's change is not visible yet
        first.commit()
    assert 'a' in changed_names(store, horizon)[1]


def test_an_older_database_s_hosts_are_all_read_at_first(store):  # noqa: F811
    """Hosts stamped 0 (before revision 0006) are read by a look from nothing."""
    store.upsert_host(topology('old'), now=1.0)
    with store.engine.begin() as conn:
        conn.execute(update(models.Host.__table__).values(changed_seq=0))
    assert changed_names(store, None)[1] == {'old'}
