"""Host drain: disable a host and move every instance off it, a few at a time.

A Drain runs in its own thread (the scheduler's ``_background``): it starts
up to ``concurrency`` migrations (live where the guest can go live, cold
otherwise; a live move refused with LIVE_MIGRATION_UNSUPPORTED is tried once
more cold), follows them in the store, and keeps a progress record: instances
moved, in flight, still pending, and those that could not move with the
reason of each.
"""

import dataclasses
import logging
import threading
import time

from scheduler import moves
from scheduler.store import ACTIVE, models
from wire import rpc

LOG = logging.getLogger(__name__)


@dataclasses.dataclass
class DrainProgress:
    host: str
    total: int
    started_at: float
    pending: list
    in_flight: dict = dataclasses.field(default_factory=dict)   # instance -> migration
    moved: dict = dataclasses.field(default_factory=dict)       # instance -> destination
    failed: dict = dataclasses.field(default_factory=dict)      # instance -> reason
    finished_at: float | None = None
    # the drain's thread changes it while drain_status reads it
    lock: object = dataclasses.field(default_factory=threading.RLock, repr=False,
                                     compare=False)

    @property
    def done(self):
        return self.finished_at is not None

    def to_dict(self):
        with self.lock:
            return {'host': self.host, 'total': self.total, 'started_at': self.started_at,
                    'pending': list(self.pending), 'in_flight': dict(self.in_flight),
                    'moved': dict(self.moved), 'failed': dict(self.failed),
                    'finished_at': self.finished_at, 'done': self.done}


class Drain:
    """Moves the ``instances`` (uuids) off ``host`` through ``mover``; ``spawn(target,
    *args)`` runs each migration (a thread by default)."""

    def __init__(self, mover, host, instances, live=True, concurrency=4, poll=0.1,
                 timeout=600.0, clock=time.time, spawn=None, request_id=None):
        self.mover = mover
        self.spawn = spawn or _thread
        self.live = live
        self.concurrency = max(1, concurrency)
        self.poll = poll
        self.timeout = timeout
        self.clock = clock
        self.cold = set()          # instances to retry cold
        self.request_id = request_id    # the host_drain call's, on every migration record
        self.progress = DrainProgress(host, len(instances), clock(), list(instances))

    def run(self):
        progress = self.progress
        try:
            while progress.pending or progress.in_flight:
                with progress.lock:
                    while progress.pending and len(progress.in_flight) < self.concurrency:
                        self._start(progress.pending.pop(0))
                    for instance, migration in list(progress.in_flight.items()):
                        self._follow(instance, migration)
                    busy = progress.in_flight and (len(progress.in_flight) >= self.concurrency
                                                   or not progress.pending)
                if busy:
                    time.sleep(self.poll)
        except Exception as exc:     # never leave a drain looking busy forever
            LOG.exception('Drain of %s failed', progress.host)
            with progress.lock:
                for instance in progress.pending + list(progress.in_flight):
                    progress.failed.setdefault(instance, f"drain stopped: {exc}")
                progress.pending, progress.in_flight = [], {}
        with progress.lock:
            progress.finished_at = self.clock()
        LOG.info('Drain of %s: %d moved, %d could not move', progress.host,
                 len(progress.moved), len(progress.failed))
        self.mover.notify('host.drain.end', {'host': progress.host,
                                             'moved': len(progress.moved),
                                             'failed': dict(progress.failed)})

    def _start(self, instance):
        mover, progress = self.mover, self.progress
        try:
            with mover.lock:
                record = mover.store.get_instance(instance)
                if record.host != progress.host or record.state != ACTIVE or record.task:
                    task = f" ({record.task})" if record.task else ''
                    progress.failed[instance] = (f"{record.state}{task} on {record.host}: "
                                                 'not moved')
                    return
                kind = moves.kind_for(record.spec, self.live and instance not in self.cold)
                migration = mover.start(record, kind, request_id=self.request_id)
        except rpc.BusError as exc:
            progress.failed[instance] = exc.one_line()
            return
        if migration.status == models.FAILED:
            progress.failed[instance] = migration.reason
            return
        progress.in_flight[instance] = migration.uuid
        self.spawn(mover.run, migration, record)

    def _follow(self, instance, migration_uuid):
        progress = self.progress
        migration = self.mover.store.get_migration(migration_uuid)
        if migration.status == models.DONE:
            progress.moved[instance] = migration.dest_host
        elif migration.status == models.FAILED:
            if (migration.kind == models.LIVE and instance not in self.cold
                    and moves.LIVE_UNSUPPORTED in (migration.reason or '')):
                self.cold.add(instance)
                progress.pending.append(instance)
            else:
                progress.failed[instance] = migration.reason
        elif self.clock() - migration.updated_at > self.timeout:
            progress.failed[instance] = (f"migration {migration_uuid} still {migration.status} "
                                         f"after {self.timeout:.0f}s (see `kvmfleet migrations`)")
        else:
            return
        del progress.in_flight[instance]


def _thread(target, *args):
    threading.Thread(target=target, args=args, daemon=True).start()
