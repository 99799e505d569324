"""scheduler.drain with a stand-in mover: bounded concurrency, the cold retry of a guest
that cannot go live, and the summary of what could not move."""

import dataclasses
import threading

from scheduler.drain import Drain
from scheduler.store import models
from wire import rpc

HOST = 'compute-1'


@dataclasses.dataclass
class Record:
    uuid: str
    host: str = HOST
    state: str = 'ACTIVE'
    task: str | None = None
    spec: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Migration:
    uuid: str
    kind: str
    status: str = models.CLAIMED
    reason: str | None = None
    dest_host: str = 'compute-2'
    updated_at: float = 0.0


class StandInMover:
    """Moves end when the test says; records the most moves in flight at once."""

    def __init__(self, records, outcome):
        self.lock = threading.RLock()
        self.records = {r.uuid: r for r in records}
        self.outcome = outcome        # (instance, kind) -> (status, reason)
        self.migrations, self.started = {}, []
        self.most_in_flight = 0
        self.events = []
        store = self

        class Store:
            def get_instance(self, uuid):
                return store.records[uuid]

            def get_migration(self, uuid):
                migration = store.migrations[uuid]
                active = [m for m in store.migrations.values() if m.status in
                          models.MOVE_ACTIVE]
                store.most_in_flight = max(store.most_in_flight, len(active))
                status, reason = store.outcome.get((uuid.split(':')[0], migration.kind),
                                                   (models.DONE, None))
                migration.status, migration.reason = status, reason
                return migration
        self.store = Store()

    def start(self, record, kind, request_id=None):
        if record.uuid == 'nowhere':
            raise rpc.BusError(rpc.NO_VALID_HOST, 'nowhere: no valid host')
        migration = Migration(f"{record.uuid}:{kind}:{len(self.started)}", kind)
        self.migrations[migration.uuid] = migration
        self.started.append((record.uuid, kind))
        return migration

    def run(self, migration, record):
        pass

    def notify(self, event, payload, error=False):
        self.events.append((event, payload))


def drain(records, outcome=None, concurrency=2):
    mover = StandInMover(records, outcome or {})
    job = Drain(mover, HOST, [r.uuid for r in records], concurrency=concurrency, poll=0,
                spawn=lambda target, *args: target(*args))
    job.run()
    return mover, job.progress.to_dict()


def test_at_most_concurrency_moves_are_in_flight():
    mover, progress = drain([Record(f"vm{i}") for i in range(7)], concurrency=3)
    assert sorted(progress['moved']) == [f"vm{i}" for i in range(7)]
    assert mover.most_in_flight == 3 and progress['done'] and progress['failed'] == {}
    assert mover.events[-1][0] == 'host.drain.end'


def test_a_guest_that_cannot_go_live_is_moved_cold_and_the_rest_is_summarised():
    records = [Record('sev', spec={'mem_encryption': True}), Record('vf'),
               Record('stopped', state='STOPPED'), Record('nowhere'), Record('broken')]
    outcome = {('vf', 'live'): (models.FAILED, 'LIVE_MIGRATION_UNSUPPORTED: whole device'),
               ('broken', 'live'): (models.FAILED, 'MIGRATION_FAILED: link down')}
    mover, progress = drain(records, outcome)
    assert ('sev', 'cold') in mover.started and ('sev', 'live') not in mover.started
    assert [k for u, k in mover.started if u == 'vf'] == ['live', 'cold']
    assert sorted(progress['moved']) == ['sev', 'vf']
    assert progress['failed'] == {'stopped': 'STOPPED on compute-1: not moved',
                                  'nowhere': 'NoValidHost: nowhere: no valid host',
                                  'broken': 'MIGRATION_FAILED: link down'}
