"""Private RabbitMQ nodes beside the machine's broker, and a 3-node cluster of them.

Each node has its own node name, AMQP and distribution ports, Mnesia, logs,
config file and no plugins, and is started from /usr/lib/rabbitmq/bin (not the
/usr/sbin wrapper: it runs as the rabbitmq user, whose HOME holds another
cookie).  The nodes of a cluster share one HOME, so one Erlang cookie, and are
joined with ``rabbitmqctl join_cluster``.  Starting and joining are idempotent:
a running node is not started twice, a member is not joined again.
"""

import concurrent.futures
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import time
import uuid as uuidlib

RABBITMQ_SERVER = '/usr/lib/rabbitmq/bin/rabbitmq-server'
RABBITMQCTL = '/usr/lib/rabbitmq/bin/rabbitmqctl'
START_TIMEOUT_S = 60
PLAIN_CONFIG = 'listeners.tcp.local = 127.0.0.1:{port}\nloopback_users = none\n'
# What the services are given on a cluster: every queue replicated (docs/operations.md)
QUORUM_OPTIONS = {'rabbit_quorum_queue': True, 'rabbit_transient_quorum_queue': True}


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def write_cookie(home):
    """A fresh Erlang cookie in ``home`` (the nodes and rabbitmqctl sharing it agree)."""
    home.mkdir(parents=True, exist_ok=True)
    cookie = home / '.erlang.cookie'
    if not cookie.exists():
        cookie.write_text(uuidlib.uuid4().hex.upper())
        os.chmod(cookie, 0o400)
    return home


def client_config(options):
    """``options`` as an [oslo_messaging_rabbit] section of a service's config file."""
    return '[oslo_messaging_rabbit]\n' + ''.join(
        f"{option} = {str(value).lower() if isinstance(value, bool) else value}\n"
        for option, value in options.items())


class PrivateNode:
    """One RabbitMQ node in ``workdir``, configured by ``config_text`` (a rabbitmq.conf)."""

    def __init__(self, workdir, node, config_text, port, home=None):
        self.workdir = pathlib.Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.node, self.port, self.dist_port = node, port, free_port()
        self.env = self._environment(config_text, write_cookie(
            pathlib.Path(home) if home else self.workdir / 'home'))

    def _environment(self, config_text, home):
        config = self.workdir / 'rabbitmq.conf'
        config.write_text(config_text)
        (self.workdir / 'enabled_plugins').write_text('[].\n')
        (self.workdir / 'rabbitmq-env.conf').write_text('')
        env = dict(os.environ, HOME=str(home), RABBITMQ_NODENAME=self.node,
                   RABBITMQ_DIST_PORT=str(self.dist_port),
                   RABBITMQ_CONFIG_FILE=str(config),
                   RABBITMQ_CONF_ENV_FILE=str(self.workdir / 'rabbitmq-env.conf'),
                   RABBITMQ_ENABLED_PLUGINS_FILE=str(self.workdir / 'enabled_plugins'),
                   RABBITMQ_MNESIA_BASE=str(self.workdir / 'mnesia'),
                   RABBITMQ_LOG_BASE=str(self.workdir / 'log'),
                   RABBITMQ_PID_FILE=str(self.workdir / 'rabbit.pid'),
                   ERL_EPMD_ADDRESS='127.0.0.1')
        env.pop('ERL_FLAGS', None)
        return env

    def rabbitmqctl(self, *args, timeout=60):
        return subprocess.run([RABBITMQCTL, '-n', self.node, *args], env=self.env,
                              capture_output=True, text=True, timeout=timeout)

    def running(self):
        """Whether the node's Erlang VM is alive (its pid file names a live process)."""
        pid = self.pid()
        try:
            return pid is not None and os.kill(pid, 0) is None
        except OSError:
            return False

    def launch(self):
        """Start the node in the background unless it already runs (no wait)."""
        if not self.running():
            subprocess.run([RABBITMQ_SERVER, '-detached'], env=self.env, capture_output=True,
                           timeout=60)
        return self

    def await_startup(self):
        deadline = time.monotonic() + START_TIMEOUT_S
        while self.rabbitmqctl('await_startup', timeout=30).returncode != 0:
            if time.monotonic() >= deadline:
                raise RuntimeError(f"RabbitMQ node {self.node} did not start in "
                                   f"{START_TIMEOUT_S}s; logs in {self.workdir / 'log'}")
            time.sleep(1)
        return self

    def start(self):
        return self.launch().await_startup()

    def pid(self):
        try:
            return int((self.workdir / 'rabbit.pid').read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def stop(self, remove_data=True):
        """Stop the node (killed if it does not stop) and, by default, drop its data."""
        if self.running() and self.rabbitmqctl('stop', timeout=60).returncode != 0 \
                and self.running():
            os.kill(self.pid(), signal.SIGKILL)
        (self.workdir / 'rabbit.pid').unlink(missing_ok=True)   # never a stale pid to kill
        if remove_data:
            shutil.rmtree(self.workdir / 'mnesia', ignore_errors=True)


def in_parallel(function, items):
    """``function(item)`` for every item at once (rabbitmqctl is slow to start); the
    first error is raised."""
    with concurrent.futures.ThreadPoolExecutor(max(1, len(items))) as pool:
        for future in [pool.submit(function, item) for item in items]:
            future.result()


class RabbitCluster:
    """Three plain-TCP nodes on 127.0.0.1 joined as one cluster, each with its AMQP port.

    Offers what tests/functional/bus_stack.Stack uses of a broker: ``url``
    (every node, for failover), ``rabbitmqctl``, ``client_options`` and
    ``client_config`` (quorum queues).
    """

    def __init__(self, workdir, size=3):
        workdir = pathlib.Path(workdir)
        tag = uuidlib.uuid4().hex[:6]
        home = write_cookie(workdir / 'home')
        self.nodes = []
        for index in range(1, size + 1):
            port = free_port()
            self.nodes.append(PrivateNode(
                workdir / f"rmq{index}", f"kft-rmq{index}-{tag}@localhost",
                PLAIN_CONFIG.format(port=port), port, home=home))

    def start(self):
        """Every node running and in the cluster of the first (idempotent)."""
        for node in self.nodes:
            node.launch()
        in_parallel(lambda node: node.await_startup(), self.nodes)
        in_parallel(self.join, self.nodes[1:])
        return self

    def members(self, via=None):
        """Names of the running nodes of the cluster, as ``via`` (default: the first) sees it."""
        result = (via or self.nodes[0]).rabbitmqctl('cluster_status', '--formatter', 'json')
        return set(json.loads(result.stdout).get('running_nodes', [])) \
            if result.returncode == 0 else set()

    def join(self, node):
        if self.nodes[0].node in self.members(via=node):
            return
        # a fresh node (its own Mnesia directory): nothing to reset before it joins
        for args in (('stop_app',), ('join_cluster', self.nodes[0].node), ('start_app',)):
            result = node.rabbitmqctl(*args, timeout=120)
            if result.returncode != 0:
                raise RuntimeError(f"{node.node}: rabbitmqctl {' '.join(args)}: "
                                   f"{result.stderr.strip()}")
        node.await_startup()

    def stop(self):
        in_parallel(lambda node: node.stop(), self.nodes)

    def node_on_port(self, port):
        return next(n for n in self.nodes if n.port == port)

    def running_nodes(self):
        return [n for n in self.nodes if n.running()]

    # -- what bus_stack.Stack asks of a broker -----------------------------
    def rabbitmqctl(self, *args):
        """rabbitmqctl on a running node (any will do for vhosts, users and queues)."""
        for node in self.nodes:
            result = node.rabbitmqctl(*args)
            if result.returncode == 0 or node.running():
                return result
        return result

    def url(self, user='guest', password='guest', vhost=''):
        hosts = ','.join(f"{user}:{password}@127.0.0.1:{n.port}" for n in self.nodes)
        return f"rabbit://{hosts}/{vhost}"

    def client_options(self):
        return dict(QUORUM_OPTIONS)

    def client_config(self):
        return client_config(self.client_options())
