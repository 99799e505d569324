"""What must hold after a chaos run (tests/functional/chaos.py), checked on the store
and on the simulated hosts' libvirt domains.

- every request is terminal: a booted instance ACTIVE, or ERROR with a reason; a
  deleted one DELETED; none with an operation (task) still in flight;
- no pool is held beyond its capacity and no pCPU, page or VF twice
  (scheduler.fitting.audit, and the store's resource rows);
- every claim is held by a live instance (BUILDING, ACTIVE or STOPPED), never by an
  ERROR or DELETED one, and on the host the instance is on; every live instance
  holds one;
- the hosts' domains are exactly the ACTIVE instances: each ACTIVE instance has one
  running domain on its host, and every domain is an ACTIVE instance of that host.

Each check returns one line per violation (empty: it holds).
"""

import collections
import json
import pathlib

from agent.domain.builder import DOMAIN_NAME_PREFIX
from scheduler.fitting import audit
from scheduler.fitting.policy import FitPolicy
from scheduler.store import ACTIVE, BUILDING, DELETED, ERROR, STOPPED
from scheduler.warm_state import WarmState

TERMINAL = (ACTIVE, ERROR, DELETED)
LIVE = (BUILDING, ACTIVE, STOPPED)


def records_of(store, uuids):
    """uuid -> InstanceRecord (DELETED included) of ``uuids`` (absent: not in the store)."""
    wanted = set(uuids)
    return {r.uuid: r for r in store.list_instances(include_deleted=True) if r.uuid in wanted}


def not_terminal(records, requests):
    """``requests``: uuid -> 'boot' | 'delete' (the last operation a client asked for)."""
    lines = []
    for uuid, operation in sorted(requests.items()):
        record = records.get(uuid)
        if record is None:
            lines.append(f"{uuid}: {operation} asked, no instance in the store")
        elif record.task:
            lines.append(f"{uuid}: {record.state} with task {record.task!r} still in flight")
        elif operation == 'delete' and record.state != DELETED:
            lines.append(f"{uuid}: deleted by its client but {record.state}")
        elif operation == 'boot' and record.state not in (ACTIVE, ERROR):
            lines.append(f"{uuid}: booted, {record.state} (not ACTIVE or ERROR)")
        elif record.state == ERROR and not record.reason:
            lines.append(f"{uuid}: ERROR without a reason")
    return lines


def overcommitted(store):
    """Pools held beyond capacity, and resource rows held twice."""
    lines = []
    for host in WarmState(store).load().fleet.hosts():
        lines += [f"{host.name}: {line}" for line in audit.overruns(host.topology, FitPolicy())]
    rows = collections.Counter((host, kind, key) for host, kind, key, _ in store.held_resources())
    lines += [f"{host}: {kind} {key} held by {count} rows"
              for (host, kind, key), count in sorted(rows.items()) if count > 1]
    return lines


def claims_mismatch(store):
    """Claims held by an instance that is not live, or on another host than its own, and
    live instances that hold none (what they use could be given again)."""
    states = {r.uuid: r for r in store.list_instances(include_deleted=True)}
    held_instances = store.held_instances()
    claimed = {h.assignment.instance for h in held_instances}
    lines = [f"{r.uuid}: {r.state} on {r.host} holds no claim"
             for r in states.values() if r.state in LIVE and r.uuid not in claimed]
    for held in held_instances:
        uuid = held.assignment.instance
        record = states.get(uuid)
        if record is None:
            lines.append(f"{uuid}: claim on {held.assignment.host} of no instance")
        elif record.state not in LIVE:
            lines.append(f"{uuid}: {record.state} instance holds a claim on "
                         f"{held.assignment.host}")
        elif record.host != held.assignment.host:
            lines.append(f"{uuid}: claim on {held.assignment.host}, instance on {record.host}")
    return lines


def host_domains(simulation_path):
    """host -> {uuid: running?} of the simulated hosts' domains, read from the XML the
    simulated connections keep on disk (agent/simulated.py)."""
    found = {}
    for host_dir in sorted((pathlib.Path(simulation_path) / 'hosts').glob('*')):
        domains = found.setdefault(host_dir.name, {})
        for xml in sorted((host_dir / 'domains').glob(f"{DOMAIN_NAME_PREFIX}*.xml")):
            # the name, not the XML: a file may be half written while the agent works
            domains[xml.stem[len(DOMAIN_NAME_PREFIX):]] = xml.with_suffix('.running').exists()
    return found


def domains_mismatch(store, simulation_path):
    """Domains without an ACTIVE instance on their host, ACTIVE instances without one."""
    active = {r.uuid: r.host for r in store.list_instances(state=ACTIVE)}
    lines = []
    seen = set()
    for host, domains in host_domains(simulation_path).items():
        for uuid, running in sorted(domains.items()):
            if active.get(uuid) != host:
                lines.append(f"{host}: domain of {uuid}, which is not ACTIVE there "
                             f"(the store: {active.get(uuid, 'not ACTIVE')})")
            elif not running:
                lines.append(f"{host}: domain of ACTIVE {uuid} is not running")
            seen.add(uuid)
    lines += [f"{host}: ACTIVE {uuid} has no domain"
              for uuid, host in sorted(active.items()) if uuid not in seen]
    return lines


def audit_run(store, simulation_path, requests):
    """Every check: name -> violation lines."""
    records = records_of(store, requests)
    return {'not_terminal': not_terminal(records, requests),
            'overcommitted': overcommitted(store),
            'claims_mismatch': claims_mismatch(store),
            'domains_mismatch': domains_mismatch(store, simulation_path)}


def final_states(store, requests):
    """How many of ``requests`` ended in each state."""
    return dict(collections.Counter(r.state for r in records_of(store, requests).values()))


def dump_instances(store, path):
    """Every instance of the store (DELETED too) with its claim, as JSON in ``path``
    (what a failed run leaves to read after its database is gone)."""
    claims = {h.assignment.instance: h.assignment.host for h in store.held_instances()}
    path.write_text(json.dumps([dict(r.to_dict(), claim_on=claims.get(r.uuid))
                                for r in store.list_instances(include_deleted=True)],
                               indent=1, sort_keys=True, default=str))
