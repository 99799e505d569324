"""A running kvmfleet on the real RabbitMQ for functional tests and the bus benchmark.

Each Stack gets its own RabbitMQ virtual host (so it never meets another
kvmfleet on the same broker), a config file, a SQLite store, the real
``kvmfleet-scheduler`` process, and simulated agents served in this process
by the same code as ``kvmfleet-agent --simulate-fleet`` (so tests can read
the applied domain XML back from libvirt's test driver).
"""

import json
import logging
import os
import pathlib
import subprocess
import sys
import time
import uuid as uuidlib

from oslo_config import cfg

from agent import simulated
from agent.cmd.run import stop_servers
from agent.manager import Reporter
from agent.updates import BatchingSchedulerAPI
from scheduler.store import Store
from wire import rpc, scheduler_rpcapi

REPO = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.executable).parent
logging.getLogger('amqp').setLevel(logging.ERROR)


def rabbitmqctl(*args):
    return subprocess.run(['rabbitmqctl', *args], capture_output=True, text=True, timeout=60)


CONFIG = """[DEFAULT]
transport_url = {url}
broker_wait_timeout = 10
service_down_time = {down_time}
log_file = {log}
[database]
connection = sqlite:///{db}
[scheduler]
flavors_file = {flavors}
build_grace_period = {grace}
[agent]
report_interval = {report_interval}
report_on_change = {on_change}
simulation_path = {sim}
"""


class Stack:
    """Scheduler process + in-process simulated agents on a private vhost."""

    def __init__(self, workdir, hosts, report_interval=2, down_time=60, grace=30,
                 on_change=True, hosts_per_connection=25, extra_config=''):
        self.workdir = pathlib.Path(workdir)
        self.vhost = f"kvmfleet-test-{uuidlib.uuid4().hex[:10]}"
        self.url = f"rabbit://guest:guest@127.0.0.1:5672/{self.vhost}"
        self.fleet_path = self.workdir / 'fleet.json'
        self.fleet_path.write_text(json.dumps({'version': 1, 'hosts': hosts}))
        self.host_names = [h['name'] for h in hosts]
        self.db = self.workdir / 'kvmfleet.sqlite'
        self.config = self.workdir / 'kvmfleet.conf'
        self.config.write_text(CONFIG.format(
            url=self.url, down_time=down_time, log=self.workdir / 'scheduler.log',
            db=self.db, flavors=REPO / 'etc' / 'kvmfleet' / 'flavors.yaml', grace=grace,
            report_interval=report_interval, on_change=on_change,
            sim=self.workdir / 'sim') + extra_config)
        self.hosts_per_connection = hosts_per_connection
        self.report_interval = report_interval
        self.scheduler = None
        self.managers, self.servers, self.reporter = [], [], None

    # -- broker ------------------------------------------------------------
    def create_vhost(self):
        for args in (('add_vhost', self.vhost),
                     ('set_permissions', '-p', self.vhost, 'guest', '.*', '.*', '.*')):
            result = rabbitmqctl(*args)
            if result.returncode != 0:
                raise RuntimeError(f"rabbitmqctl {args[0]}: {result.stderr.strip()}")
        cfg.CONF.set_override('transport_url', self.url)
        cfg.CONF.set_override('report_interval', self.report_interval, group='agent')

    def close(self):
        self.stop_agents()
        self.stop_scheduler()
        rpc.reset_transports()
        cfg.CONF.clear_override('transport_url')
        cfg.CONF.clear_override('report_interval', group='agent')
        rabbitmqctl('delete_vhost', self.vhost)

    # -- scheduler process -------------------------------------------------
    def start_scheduler(self):
        self.sync_database()
        self.scheduler = subprocess.Popen(
            [str(BIN / 'kvmfleet-scheduler'), '--config-file', str(self.config)],
            stdout=subprocess.DEVNULL, stderr=open(self.workdir / 'scheduler.err', 'a'))

    def sync_database(self):
        """``kvmfleet-manage db sync``, as an operator runs it before starting a scheduler
        (idempotent; the module, so it runs before the console script is installed)."""
        result = subprocess.run(
            [sys.executable, '-m', 'scheduler.cmd.manage', '--config-file', str(self.config),
             'db', 'sync'], capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"kvmfleet-manage db sync: {result.stderr.strip()}")

    def stop_scheduler(self, timeout=30):
        if self.scheduler is None:
            return None
        self.scheduler.terminate()
        try:
            code = self.scheduler.wait(timeout)
        except subprocess.TimeoutExpired:
            self.scheduler.kill()
            code = self.scheduler.wait()
        self.scheduler = None
        return code

    def api(self, timeout=20):
        return scheduler_rpcapi.SchedulerAPI(timeout=timeout)

    def wait_scheduler(self, timeout=60):
        """Until the scheduler answers a call (its queues exist: casts to it are kept)."""
        deadline, api = time.monotonic() + timeout, self.api(timeout=3)
        while True:
            try:
                return api.list(state='ERROR')
            except Exception:   # not consuming yet: the call times out
                if time.monotonic() >= deadline:
                    raise AssertionError(f"the scheduler did not answer within {timeout}s; "
                                         f"see {self.workdir / 'scheduler.log'}")
                time.sleep(0.3)

    def wait_hosts_up(self, count=None, timeout=60):
        """Until the scheduler answers and sees ``count`` hosts up; returns the hosts."""
        count = len(self.host_names) if count is None else count
        deadline, api, hosts = time.monotonic() + timeout, self.api(timeout=3), []
        while time.monotonic() < deadline:
            try:
                hosts = api.hosts()['hosts']
            except Exception:   # scheduler not consuming yet: the call times out
                hosts = []
            if sum(1 for h in hosts if h['up']) >= count:
                return hosts
            time.sleep(0.3)
        raise AssertionError(f"{count} hosts not up after {timeout}s: {len(hosts)} seen; "
                             f"see {self.workdir / 'scheduler.log'}")

    # -- simulated agents (in process) -------------------------------------
    def start_agents(self):
        api = BatchingSchedulerAPI(scheduler_rpcapi.SchedulerAPI())   # as kvmfleet-agent
        self.managers, self.servers = simulated.build_fleet(
            self.fleet_path, api, path=str(self.workdir / 'sim'),
            hosts_per_connection=self.hosts_per_connection)
        for server in self.servers:
            server.start()
        for manager in self.managers:
            manager.startup()
        self.reporter = Reporter(self.managers)
        self.reporter.start()

    def stop_agents(self):
        if self.reporter is not None:
            self.reporter.stop()
            self.reporter.join(5)
            self.reporter = None
        stop_servers(self.servers)
        self.servers = []

    def manager(self, host):
        return next(m for m in self.managers if m.host_name == host)

    def store(self):
        return Store(f"sqlite:///{self.db}")

    # -- waiting -------------------------------------------------------------
    def wait_settled(self, uuids, timeout=60, settled=('ACTIVE', 'ERROR')):
        """Poll ``list`` until none of ``uuids`` is BUILDING (or in a task)."""
        api, deadline, pending = self.api(), time.monotonic() + timeout, set(uuids)
        by_uuid = {}
        while time.monotonic() < deadline:
            by_uuid = {i['uuid']: i for i in api.list()['instances']}
            by_uuid.update({u: api.show(u) for u in pending if u not in by_uuid})
            pending = {u for u in pending
                       if by_uuid[u]['state'] not in settled or by_uuid[u]['task']}
            if not pending:
                return {u: by_uuid[u] for u in uuids}
            time.sleep(0.2)
        raise AssertionError(f"{len(pending)} instances not settled after {timeout}s, e.g. "
                             f"{[by_uuid.get(u) for u in list(pending)[:3]]}")


def environment_with_venv():
    env = dict(os.environ)
    env['PATH'] = f"{BIN}:{env.get('PATH', '')}"
    return env
