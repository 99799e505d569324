"""A running kvmfleet on the real RabbitMQ for functional tests and the bus benchmark.

Each Stack gets its own RabbitMQ virtual host (so it never meets another
kvmfleet on the same broker), a config file, a SQLite store, the real
``kvmfleet-scheduler`` process, and simulated agents served in this process
by the same code as ``kvmfleet-agent --simulate-fleet`` (so tests can read
the applied domain XML back from libvirt's test driver).
"""

import contextlib
import json
import logging
import os
import pathlib
import subprocess
import sys
import time
import uuid as uuidlib

from oslo_config import cfg

from agent import simulated, trust
from agent.cmd.run import stop_servers
from agent.manager import Reporter
from agent.updates import BatchingSchedulerAPI
from scheduler.store import Store
from wire import key_commands, notifications, rpc, scheduler_rpcapi

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


AGENT_KEY_OPTIONS = ('agent_private_key', 'trusted_schedulers_dir')


class Stack:
    """Scheduler process + in-process simulated agents on a private vhost."""

    def __init__(self, workdir, hosts, report_interval=2, down_time=60, grace=30,
                 on_change=True, hosts_per_connection=25, extra_config='', broker=None,
                 users=None):
        self.workdir = pathlib.Path(workdir)
        self.vhost = f"kvmfleet-test-{uuidlib.uuid4().hex[:10]}"
        # another broker (tests/functional/tls_broker.py): its URL, rabbitmqctl and CA
        self.broker = broker
        # {'scheduler'|'agent'|'operator': (user, password)}: each role its own user
        self.users = users or {}
        self.url = self.role_url('scheduler')
        if broker:
            extra_config = broker.client_config() + extra_config
        self.fleet_path = self.workdir / 'fleet.json'
        self.fleet_path.write_text(json.dumps({'version': 1, 'hosts': hosts}))
        self.host_names = [h['name'] for h in hosts]
        self.db = self.workdir / 'kvmfleet.sqlite'
        self.config = self.workdir / 'kvmfleet.conf'
        # signed as in production: every fleet host enrolled, the scheduler trusted
        self.keys = key_commands.provision(self.workdir / 'keys', self.host_names)
        self.config.write_text(CONFIG.format(
            url=self.url, down_time=down_time, log=self.workdir / 'scheduler.log',
            db=self.db, flavors=REPO / 'etc' / 'kvmfleet' / 'flavors.yaml', grace=grace,
            report_interval=report_interval, on_change=on_change,
            sim=self.workdir / 'sim') + key_commands.config_section(self.keys) + extra_config)
        self.hosts_per_connection = hosts_per_connection
        self.report_interval = report_interval
        self.scheduler = None
        self.managers, self.servers, self.reporter = [], [], None
        self.notifier = notifications.DISABLED

    # -- broker ------------------------------------------------------------
    def role_url(self, role):
        """The transport URL of ``role`` (guest unless the stack has a user for it)."""
        user, password = self.users.get(role, ('guest', 'guest'))
        if self.broker:
            return self.broker.url(user, password, vhost=self.vhost)
        return f"rabbit://{user}:{password}@127.0.0.1:5672/{self.vhost}"

    def use_users(self, users):
        """Switch every role to its own user (made after create_vhost, on the stack's vhost)."""
        old_url, self.users = self.url, users
        self.url = self.role_url('scheduler')
        self.config.write_text(self.config.read_text().replace(old_url, self.url))
        cfg.CONF.set_override('transport_url', self.role_url('agent'))

    def rabbitmqctl(self, *args):
        return self.broker.rabbitmqctl(*args) if self.broker else rabbitmqctl(*args)

    def create_vhost(self):
        for args in (('add_vhost', self.vhost),
                     ('set_permissions', '-p', self.vhost, 'guest', '.*', '.*', '.*')):
            result = self.rabbitmqctl(*args)
            if result.returncode != 0:
                raise RuntimeError(f"rabbitmqctl {args[0]}: {result.stderr.strip()}")
        cfg.CONF.set_override('transport_url', self.role_url('agent'))
        cfg.CONF.set_override('report_interval', self.report_interval, group='agent')
        for option in AGENT_KEY_OPTIONS:   # the in-process agents sign and verify
            cfg.CONF.set_override(option, self.keys[option], group='signing')
        for option, value in self.broker_options():
            cfg.CONF.set_override(option, value, group='oslo_messaging_rabbit')

    def broker_options(self):
        return self.broker.client_options().items() if self.broker else ()

    def enrol(self, host_name):
        """Enrol one more host (e.g. a real agent's) with the stack's agent key."""
        key_commands.provision(self.workdir / 'keys', [host_name])

    def close(self):
        self.stop_agents()
        self.stop_scheduler()
        rpc.reset_transports()
        cfg.CONF.clear_override('transport_url')
        cfg.CONF.clear_override('report_interval', group='agent')
        for option in AGENT_KEY_OPTIONS:
            cfg.CONF.clear_override(option, group='signing')
        for option, _ in self.broker_options():
            cfg.CONF.clear_override(option, group='oslo_messaging_rabbit')
        self.rabbitmqctl('delete_vhost', self.vhost)

    # -- scheduler process -------------------------------------------------
    def start_scheduler(self, sync=True):
        if sync:
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
        """An operator's client."""
        return scheduler_rpcapi.SchedulerAPI(timeout=timeout, url=self.role_url('operator'))

    def wait_scheduler(self, timeout=60, api=None):
        """Until the scheduler answers a call (its queues exist: casts to it are kept);
        ``api``: a client bound to one of several schedulers."""
        deadline, api = time.monotonic() + timeout, api or self.api(timeout=3)
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
        api = BatchingSchedulerAPI(scheduler_rpcapi.SchedulerAPI(   # as kvmfleet-agent
            signer=trust.signer_from_conf()))
        self.notifier = notifications.from_conf(cfg.CONF, notifications.AGENT)
        self.managers, self.servers = simulated.build_fleet(
            self.fleet_path, api, path=str(self.workdir / 'sim'),
            hosts_per_connection=self.hosts_per_connection, notifier=self.notifier)
        trust.guard(self.managers, trust.verifier_from_conf())
        for manager in self.managers:      # as kvmfleet-agent: clean up, then serve
            manager.startup()
        for server in self.servers:
            server.start()
        self.reporter = Reporter(self.managers)
        self.reporter.start()

    def stop_agents(self):
        if self.reporter is not None:
            self.reporter.stop()
            self.reporter.join(5)
            self.reporter = None
        stop_servers(self.servers)
        self.servers = []
        self.notifier.close()

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


@contextlib.contextmanager
def running_stack(workdir, hosts, prepare=None, **options):
    """A Stack with its scheduler and simulated agents started and every host up.

    ``prepare(stack)`` runs once its vhost exists, before anything starts.
    """
    stack = Stack(workdir, hosts, **options)
    stack.create_vhost()
    try:
        if prepare is not None:
            prepare(stack)
        stack.start_scheduler()
        stack.start_agents()
        stack.wait_hosts_up()
        yield stack
    finally:
        stack.close()


def environment_with_venv():
    env = dict(os.environ)
    env['PATH'] = f"{BIN}:{env.get('PATH', '')}"
    return env
