"""A chaos run: mixed boots and deletes from several clients while schedulers, a broker
node and the agent are killed; then the audit (tests/functional/chaos_audit.py).

What runs, all real and all private to the run (its own RabbitMQ cluster, vhost,
PostgreSQL schema and directory, removed afterwards):

- a 3-node RabbitMQ cluster with quorum queues (tests/functional/rabbit_cluster.py),
  every service given the URL of all three nodes;
- two ``kvmfleet-scheduler`` processes on one PostgreSQL schema;
- one ``kvmfleet-agent --simulate-fleet`` process serving every host on libvirt's
  test driver (its domains outlive a kill: agent/simulated.py);
- client threads, each sending boots with uuids it chose and deletes of the
  instances it booted; a call that times out or loses its connection is sent again
  with the same uuid (a boot sent twice must not make two instances).

Faults, spread over the operations in the order of ``Plan.faults``: SIGKILL a
scheduler (restarted a second later), stop the broker node the schedulers use most
(started again ``broker_down_s`` later), SIGKILL the agent while builds are in flight
(restarted a second later).  Bounded: the clients stop at ``deadline_s`` and the
settling at ``settle_s``, whatever happens.

Used by tests/functional/test_chaos.py (short, in CI) and benchmarks/bench_chaos.py
(1,000 operations, a summary table).
"""

import contextlib
import dataclasses
import pathlib
import random
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid as uuidlib

import psutil

from scheduler.store import ACTIVE, BUILDING, Store
from tests import busfleet
from tests.functional import chaos_audit
from tests.functional.bus_stack import BIN, Stack
from tests.functional.rabbit_cluster import RabbitCluster
from wire import rpc

SCHEDULER_KILL, BROKER_STOP, AGENT_KILL = 'scheduler_kill', 'broker_stop', 'agent_kill'
FULL_FAULTS = (SCHEDULER_KILL, BROKER_STOP, SCHEDULER_KILL, AGENT_KILL, SCHEDULER_KILL)
SHORT_FAULTS = (SCHEDULER_KILL, AGENT_KILL, BROKER_STOP)
RESTART_DELAY_S = 1.0


@dataclasses.dataclass
class Plan:
    """How big the run is, and its faults."""

    operations: int = 150
    clients: int = 4
    hosts: int = 8
    delete_share: float = 0.35     # of the operations of a client with instances to delete
    faults: tuple = SHORT_FAULTS
    call_timeout_s: float = 5.0
    deadline_s: float = 120.0      # the clients send nothing new after this
    grace_s: int = 10              # [scheduler] build_grace_period
    # [agent] report_interval: every host's heartbeat (and reports on change, at most one
    # a second); at 1 s, 24 hosts' reports kept two schedulers on a starved machine busy
    # behind their lock until no boot got an answer (docs/benchmarks.md, Chaos)
    report_interval_s: int = 5
    broker_down_s: float = 8.0
    settle_s: float = 60.0         # the audit must hold within this after the clients end
    seed: int = 1

    def fault_points(self):
        """(operations done, fault) for each fault, spread evenly over the run."""
        step = self.operations / (len(self.faults) + 1)
        return [(int(step * (index + 1)), fault) for index, fault in enumerate(self.faults)]


@dataclasses.dataclass
class Tally:
    """What the clients and the faults did (thread-safe counters)."""

    requests: dict = dataclasses.field(default_factory=dict)   # uuid -> 'boot' | 'delete'
    boots: int = 0
    deletes: int = 0
    retries: int = 0
    no_valid_host: int = 0
    unexpected: list = dataclasses.field(default_factory=list)
    faults: list = dataclasses.field(default_factory=list)     # (fault, seconds in, detail)
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    @property
    def operations(self):
        return self.boots + self.deletes

    def count(self, name, uuid, operation):
        with self.lock:
            setattr(self, name, getattr(self, name) + 1)
            self.requests[uuid] = operation


class ChaosRun:
    """The services of one chaos run; ``run()`` drives it and returns its summary."""

    def __init__(self, plan, workdir, postgres_url):
        self.plan = plan
        self.workdir = pathlib.Path(workdir)
        self.postgres_url = postgres_url
        self.cluster = RabbitCluster(self.workdir / 'rabbit')
        self.stack = None
        self.schedulers = [None, None]
        self.agent = None
        self.store = None
        self.tally = Tally()
        self.started = None
        self.clients_done = threading.Event()
        self.restarts = []        # threading.Timer starting a stopped broker node again
        self.timings = {}         # phase -> seconds

    # -- services ------------------------------------------------------------
    def timed(self, phase, since):
        self.timings[phase] = round(time.monotonic() - since, 1)
        return time.monotonic()

    def start(self):
        since = time.monotonic()
        self.cluster.start()
        since = self.timed('cluster_start_s', since)
        (self.workdir / 'stack').mkdir(exist_ok=True)
        self.stack = Stack(self.workdir / 'stack', busfleet.fleet(self.plan.hosts, prefix='ch'),
                           report_interval=self.plan.report_interval_s, down_time=30,
                           grace=self.plan.grace_s,
                           broker=self.cluster, hosts_per_connection=self.plan.hosts)
        config = self.stack.config.read_text().replace(
            f"connection = sqlite:///{self.stack.db}", f"connection = {self.postgres_url}")
        self.stack.config.write_text(config)
        self.stack.create_vhost()
        since = self.timed('vhost_s', since)
        self.stack.sync_database()
        since = self.timed('db_sync_s', since)
        self.store = Store(self.postgres_url)
        for index in range(len(self.schedulers)):
            self.start_scheduler(index)
        self.stack.wait_scheduler()
        since = self.timed('schedulers_start_s', since)
        self.start_agent()
        self.stack.wait_hosts_up(timeout=60)
        self.timed('agent_start_s', since)

    def scheduler_config(self, index):
        path = self.stack.workdir / f"scheduler-{index}.conf"
        if not path.exists():
            path.write_text(self.stack.config.read_text().replace(
                'scheduler.log', f"scheduler-{index}.log"))
        return path

    def start_scheduler(self, index):
        self.schedulers[index] = subprocess.Popen(
            [str(BIN / 'kvmfleet-scheduler'), '--config-file', str(self.scheduler_config(index))],
            stdout=subprocess.DEVNULL,
            stderr=open(self.stack.workdir / f"scheduler-{index}.err", 'a'))

    def start_agent(self):
        config = self.stack.workdir / 'agent.conf'
        if not config.exists():
            config.write_text(self.stack.config.read_text().replace('scheduler.log', 'agent.log'))
        self.agent = subprocess.Popen(
            [str(BIN / 'kvmfleet-agent'), '--config-file', str(config),
             '--simulate-fleet', str(self.stack.fleet_path)],
            stdout=subprocess.DEVNULL, stderr=open(self.stack.workdir / 'agent.err', 'a'))

    def close(self):
        running = [p for p in [*self.schedulers, self.agent] if p is not None and p.poll() is None]
        for process in running:          # all at once: each takes a second or two
            process.terminate()
        for process in running:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for restart in self.restarts:    # a stopped node back before the cluster stops
            restart.join()
        if self.store is not None:
            self.store.dispose()
        try:
            if self.stack is not None:
                self.stack.close()
        finally:
            self.cluster.stop()

    # -- the run ---------------------------------------------------------------
    def run(self):
        """Clients and faults, then the settling and the audit; the summary."""
        self.started = time.monotonic()
        shares = _shares(self.plan.operations, self.plan.clients)
        # daemons: a run cut short (an error, ^C) must not wait for calls into a broker
        # that is gone (they would be retried forever)
        clients = [threading.Thread(target=self.client, args=(index, share),
                                    name=f"chaos-client-{index}", daemon=True)
                   for index, share in enumerate(shares)]
        faults = threading.Thread(target=self.inject_faults, name='chaos-faults', daemon=True)
        for thread in [*clients, faults]:
            thread.start()
        for thread in clients:
            thread.join()
        self.clients_done.set()
        faults.join()
        clients_s = time.monotonic() - self.started
        violations = self.settle()
        return self.summary(clients_s, violations)

    def elapsed(self):
        return time.monotonic() - self.started

    def client(self, index, operations):
        api = self.stack.api(timeout=self.plan.call_timeout_s)
        rng = random.Random(self.plan.seed * 1000 + index)
        mine = []
        for number in range(operations):
            if self.elapsed() > self.plan.deadline_s:
                return
            if mine and rng.random() < self.plan.delete_share:
                uuid = mine.pop(rng.randrange(len(mine)))
                self.call(api.delete, uuid, 'delete', uuid)
                self.tally.count('deletes', uuid, 'delete')
                continue
            uuid = str(uuidlib.uuid4())
            template = busfleet.MIXED[number % len(busfleet.MIXED)]
            request = dict(template, name=f"chaos-{index}-{number}")
            answer = self.call(api.boot, uuid, 'boot', request, instance_uuids=[uuid])
            self.tally.count('boots', uuid, 'boot')
            if answer is not None:
                mine.append(uuid)

    def call(self, method, uuid, operation, *args, **kwargs):
        """``method(*args)``, sent again (same uuid) while it times out; None: refused."""
        while True:
            try:
                return method(*args, **kwargs)
            except rpc.BusError as exc:
                if exc.code == rpc.NO_VALID_HOST:
                    with self.tally.lock:
                        self.tally.no_valid_host += 1
                else:
                    with self.tally.lock:
                        self.tally.unexpected.append(f"{operation} {uuid}: {exc.one_line()}")
                return None
            except Exception:   # MessagingTimeout, a connection lost with its node
                with self.tally.lock:
                    self.tally.retries += 1
                if self.elapsed() > self.plan.deadline_s + self.plan.settle_s:
                    with self.tally.lock:
                        self.tally.unexpected.append(f"{operation} {uuid}: never answered")
                    return None
                time.sleep(0.2)

    # -- faults ------------------------------------------------------------------
    def inject_faults(self):
        scheduler = 0
        for at, fault in self.plan.fault_points():
            while self.tally.operations < at and not self.clients_done.is_set():
                time.sleep(0.05)
            if fault == SCHEDULER_KILL:
                detail = self.kill_scheduler(scheduler)
                scheduler = (scheduler + 1) % len(self.schedulers)
            elif fault == BROKER_STOP:
                detail = self.stop_broker_node()
            else:
                detail = self.kill_agent()
            self.tally.faults.append((fault, round(self.elapsed(), 1), detail))

    def kill_scheduler(self, index):
        process = self.schedulers[index]
        process.send_signal(signal.SIGKILL)
        process.wait()
        time.sleep(RESTART_DELAY_S)
        self.start_scheduler(index)
        return f"scheduler {index} (pid {process.pid}) killed and restarted"

    def stop_broker_node(self):
        """Stop the node most of the schedulers' connections go to; start it again later."""
        ports = [c.raddr.port for p in self.schedulers if p.poll() is None
                 for c in psutil.Process(p.pid).net_connections('tcp') if c.raddr]
        by_port = {n.port: n for n in self.cluster.nodes}
        used = [port for port in ports if port in by_port] or [self.cluster.nodes[0].port]
        node = by_port[max(set(used), key=used.count)]
        node.stop(remove_data=False)
        restart = threading.Timer(self.plan.broker_down_s, node.start)
        restart.start()
        self.restarts.append(restart)
        return f"node {node.node} stopped for {self.plan.broker_down_s:.0f}s"

    def kill_agent(self):
        """SIGKILL the agent while builds are in flight (BUILDING instances), restart it."""
        deadline, building = time.monotonic() + 10, 0
        while time.monotonic() < deadline and not building:
            building = len(self.store.list_instances(state=BUILDING))
            if not building:
                time.sleep(0.01)
        self.agent.send_signal(signal.SIGKILL)
        self.agent.wait()
        time.sleep(RESTART_DELAY_S)
        self.start_agent()
        return f"agent killed with {building} builds in flight, restarted"

    # -- afterwards -----------------------------------------------------------------
    def settle(self):
        """The audit, polled until it holds or ``settle_s`` has passed; its last result."""
        deadline = time.monotonic() + self.plan.settle_s
        while True:
            violations = chaos_audit.audit_run(self.store, self.stack.workdir / 'sim',
                                               dict(self.tally.requests))
            if not any(violations.values()) or time.monotonic() >= deadline:
                chaos_audit.dump_instances(self.store, self.workdir / 'instances.json')
                return violations
            time.sleep(1.0)

    def summary(self, clients_s, violations):
        tally = self.tally
        return {
            'operations': tally.operations, 'boots': tally.boots, 'deletes': tally.deletes,
            'clients': self.plan.clients, 'hosts': self.plan.hosts,
            'retries': tally.retries, 'no_valid_host': tally.no_valid_host,
            'unexpected_errors': tally.unexpected,
            'final_states': chaos_audit.final_states(self.store, tally.requests),
            'faults': [{'fault': f, 'at_s': at, 'detail': d} for f, at, d in tally.faults],
            'violations': violations,
            'clients_s': round(clients_s, 1), 'duration_s': round(self.elapsed(), 1),
            'active': len(self.store.list_instances(state=ACTIVE)),
            'startup': dict(self.timings),
        }


def _shares(total, parts):
    return [total // parts + (1 if index < total % parts else 0) for index in range(parts)]


@contextlib.contextmanager
def chaos_run(plan, postgres_url, workdir=None):
    """A started ChaosRun in ``workdir`` (default: a new temporary directory, removed
    afterwards); everything it started is stopped and removed on the way out."""
    own = workdir is None
    workdir = pathlib.Path(workdir or tempfile.mkdtemp(prefix='kvmfleet-chaos-'))
    run = ChaosRun(plan, workdir, postgres_url)
    try:
        run.start()
        yield run
    finally:
        run.close()
        if own:
            shutil.rmtree(workdir, ignore_errors=True)

