"""Several ``kvmfleet-scheduler`` processes on one PostgreSQL database, beside a Stack.

Each scheduler runs with the Stack's config file plus one of its own: the shared
PostgreSQL store, its own bus name (``[scheduler] host``, so a call can be sent to
that one scheduler), its own log file and metrics port (its claims and
conflicts are read from its Prometheus counters).  Used by the functional tests
of active-active schedulers and by ``bench_bus.py --schedulers N``.
"""

import re
import socket
import subprocess
import sys
import urllib.request

from tests.functional.bus_stack import BIN
from wire import scheduler_rpcapi

SCHEDULER_CONFIG = """[DEFAULT]
log_file = {log}
[database]
connection = {database_url}
[scheduler]
host = {name}
[metrics]
enabled = true
bind_host = 127.0.0.1
scheduler_port = {port}
"""
CLAIMS = re.compile(r'^kvmfleet_scheduler_claims_total\{result="(\w+)"\} ([0-9.e+]+)$', re.M)


def free_port():
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


class Schedulers:
    """``count`` scheduler processes of ``stack`` sharing the store at ``database_url``."""

    def __init__(self, stack, count, database_url):
        self.stack = stack
        self.names = [f"scheduler-{index}-{stack.vhost[-6:]}" for index in range(count)]
        self.ports = [free_port() for _ in self.names]
        self.configs = []
        for name, port in zip(self.names, self.ports):
            path = stack.workdir / f"{name}.conf"
            path.write_text(SCHEDULER_CONFIG.format(
                log=stack.workdir / f"{name}.log", database_url=database_url, name=name,
                port=port))
            self.configs.append(path)
        self.processes = []

    def config_args(self, index):
        return ['--config-file', str(self.stack.config), '--config-file', str(self.configs[index])]

    def sync_database(self):
        """``kvmfleet-manage db sync`` of the shared store, as an operator runs it once."""
        result = subprocess.run([sys.executable, '-m', 'scheduler.cmd.manage',
                                 *self.config_args(0), 'db', 'sync'],
                                capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"kvmfleet-manage db sync: {result.stderr.strip()}")

    def start(self):
        self.sync_database()
        for index, name in enumerate(self.names):
            self.processes.append(subprocess.Popen(
                [str(BIN / 'kvmfleet-scheduler'), *self.config_args(index)],
                stdout=subprocess.DEVNULL,
                stderr=open(self.stack.workdir / f"{name}.err", 'a')))
        for index in range(len(self.names)):
            self.wait_serving(index)

    def api(self, index, timeout=20):
        """A client whose calls go to scheduler ``index`` alone."""
        api = scheduler_rpcapi.SchedulerAPI(timeout=timeout, url=self.stack.role_url('operator'))
        api.client = api.client.prepare(server=self.names[index])
        return api

    def wait_serving(self, index, timeout=60):
        return self.stack.wait_scheduler(timeout, api=self.api(index, timeout=3))

    def claims(self, index):
        """{'claimed': n, 'conflict': n, ...}: scheduler ``index``'s claims so far."""
        url = f"http://127.0.0.1:{self.ports[index]}/metrics"
        with urllib.request.urlopen(url, timeout=10) as answer:
            text = answer.read().decode()
        return {result: int(float(value)) for result, value in CLAIMS.findall(text)}

    def pids(self):
        return [process.pid for process in self.processes]

    def stop(self, timeout=30):
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes = []


def comparable(view):
    """What two schedulers must agree on about one host of ``hosts``: its usage and
    generation (the heartbeat's time and flags move with the next report)."""
    return {key: view[key] for key in ('name', 'generation', 'instances', 'cells',
                                       'vfs_by_physnet', 'enabled')}


def store_views(store):
    """``hosts`` as the store's own truth answers it: a view loaded afresh."""
    from scheduler import host_views
    from scheduler.warm_state import WarmState
    state = WarmState(store).load()
    return {name: host_views.host_view(state, name) for name in state.generations
            if name in state.fleet}
