"""The scheduler's warm view of the fleet, kept in step with the store.

The engine places against a FleetView (fast, in memory).  This module builds
that view from the store (host topologies + the claims held there), tracks
each host's generation as the view last saw it, its heartbeat and whether it
is up/enabled, and reloads one host from the store when a claim finds the view
stale.  Before each decision it catches up with what other schedulers wrote
(``catch_up``: the hosts stamped since its last look, scheduler/store/changes.py).
The store is the truth; the view is a cache of it.
"""

import logging
import time

from oslo_config import cfg

from scheduler.engine.fleet import FleetView
from wire.errors import InvalidInput
from wire.topology import HostTopology, Instance

LOG = logging.getLogger(__name__)

state_opts = [
    cfg.IntOpt('service_down_time', default=60, min=1,
               help='Seconds without a report after which a host is down: nothing new '
                    'is placed there.'),
]
cfg.CONF.register_opts(state_opts)


def list_opts():
    return [('DEFAULT', state_opts)]


def topology_of(record, held, up):
    """HostTopology of a store HostRecord with the instances its claims hold (a move's
    destination claim is held under its migration uuid, store.moves.consumer_assignment)."""
    topology = HostTopology.from_dict(dict(record.topology, instances=[]))
    instances = tuple(Instance(uuid=h.assignment.instance, name=h.name,
                               assignment=h.assignment, server_group=h.server_group)
                      for h in held)
    return _replace(topology, instances=instances, enabled=record.enabled, up=up)


def _replace(topology, **changes):
    values = {name: getattr(topology, name) for name in topology.__dataclass_fields__}
    values.update(changes)
    return HostTopology(**values)


class WarmState:
    """FleetView + per-host generation, heartbeat and up/enabled flags."""

    def __init__(self, store, down_time=None, clock=time.time):
        self.store = store
        self.clock = clock
        self.down_time = down_time or cfg.CONF.service_down_time
        self.fleet = FleetView()
        self.generations = {}
        self.heartbeats = {}
        self.up = {}
        self.enabled = {}
        # The store's change horizon this view has followed to (Store.host_changes)
        self.seen = None

    def load(self):
        """(Re)build the whole view from the store (scheduler start)."""
        # Read first: whatever changes while the view loads is read again by catch_up.
        horizon = self.store.change_horizon()
        held_by_host = {}
        for held in self.store.held_instances() + self.store.move_claims():
            held_by_host.setdefault(held.assignment.host, []).append(held)
        topologies = []
        for record in self.store.iter_hosts():
            try:
                topology = topology_of(record, held_by_host.get(record.name, []), False)
            except InvalidInput as exc:   # stored before the consistency rules existed
                LOG.error('host %s left out of the view until its next good report: its '
                          'stored topology is inconsistent: %s', record.name, exc)
                continue
            self._remember(record)
            topologies.append(_replace(topology, up=self.up[record.name]))
        self.fleet = FleetView(topologies)
        self.seen = horizon
        return self

    def _remember(self, record):
        self.generations[record.name] = record.generation
        self.heartbeats[record.name] = record.last_heartbeat
        self.enabled[record.name] = record.enabled
        self.up[record.name] = self.is_fresh(record.last_heartbeat)

    def is_fresh(self, heartbeat):
        return heartbeat is not None and self.clock() - heartbeat <= self.down_time

    def refresh_host(self, name, keep_up=False):
        """Reload one host and its claims from the store into the view.

        ``keep_up``: a known host keeps the up flag the view has, so a change of
        liveness is still found, and told, by ``follow_store``.
        """
        record = self.store.get_host(name)
        held = self.store.held_instances(name) + self.store.move_claims(name)
        was_up = self.up.get(name)
        self._remember(record)
        if keep_up and was_up is not None:
            self.up[name] = was_up
        self.fleet.update_host(topology_of(record, held, self.up[name]))
        return record

    def catch_up(self):
        """Reload the hosts other schedulers changed since the last look; returns them.

        One indexed query (Store.host_changes), nearly always a row or two: the
        claims and releases of other schedulers, hosts they first heard from,
        enabled flags they set.  A host whose generation and flag the view
        already has (its own claims) is not reloaded.  Called under the
        scheduler lock before every decision and answer about hosts.
        """
        horizon, changed = self.store.host_changes(self.seen)
        reloaded = [name for name, generation, enabled in changed
                    if (generation, enabled) != (self.generations.get(name),
                                                 self.enabled.get(name))]
        for name in reloaded:
            try:
                self.refresh_host(name, keep_up=True)
            except InvalidInput as exc:   # as at load: left as it was until a good report
                LOG.error('host %s not reloaded: its stored topology is inconsistent: %s',
                          name, exc)
        self.seen = horizon
        return reloaded

    def heartbeat(self, name, when):
        """Record a report's time; True when the host was down (or unknown) before."""
        was_up = self.up.get(name, False)
        self.heartbeats[name] = when
        self.up[name] = True
        return not was_up

    def beat(self, name, when):
        """A report's time of a host the view has up, recorded without the scheduler
        lock (one dict write); False, recording nothing, when the host is not up or
        not in the view: then ``heartbeat`` under the lock (coming up is told)."""
        if not self.up.get(name) or name not in self.fleet:
            return False
        self.heartbeats[name] = when
        return True

    def follow_store(self):
        """Catch up with what every scheduler recorded; returns (went_down, came_up).

        Host reports reach one scheduler each, but each is recorded in the
        store: liveness comes from the store's heartbeats, so all schedulers
        agree on up/down and a host that reports is never marked down.  A host
        whose generation, enabled flag or liveness moved is reloaded (claims
        and releases made by other schedulers, hosts they first heard from).
        """
        went_down, came_up = [], []
        for name, generation, enabled, heartbeat in self.store.host_liveness():
            was_up = self.up.get(name, False)
            now_up = self.is_fresh(heartbeat)
            if (generation, enabled, now_up) == (self.generations.get(name),
                                                 self.enabled.get(name), was_up):
                self.heartbeats[name] = heartbeat
                continue
            self.refresh_host(name)
            if was_up != now_up:
                (came_up if now_up else went_down).append(name)
        return went_down, came_up

    def applied(self, assignment, server_group, generation):
        """A successful claim: hold it in the view, remember the new generation."""
        self.fleet.apply(assignment, server_group)
        self.generations[assignment.host] = generation

    def released(self, assignment, generation):
        """A freed claim; a generation jump means someone else wrote: reload the host."""
        host = assignment.host
        if host not in self.fleet:
            return
        if generation == self.generations.get(host, -2) + 1:
            self.fleet.release(assignment)
            self.generations[host] = generation
        else:
            self.refresh_host(host)
