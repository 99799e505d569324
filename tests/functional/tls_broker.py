"""A private RabbitMQ node with a TLS-only listener, and the CA and certificates it uses.

The node runs beside the machine's broker (its own node name, ports, Mnesia, logs,
cookie and no plugins), is started by a test fixture and stopped after it, and
accepts only TLS on its AMQP port: a plaintext client gets no AMQP session.
The certificates are made here with the ``cryptography`` package (a CA, then a
server certificate for localhost / 127.0.0.1 signed by it).
"""

import datetime
import ipaddress
import os
import pathlib
import shutil
import socket
import subprocess
import time
import uuid as uuidlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

RABBITMQ_SERVER = '/usr/lib/rabbitmq/bin/rabbitmq-server'
# not the /usr/sbin wrapper: it runs as the rabbitmq user, whose HOME holds another cookie
RABBITMQCTL = '/usr/lib/rabbitmq/bin/rabbitmqctl'
START_TIMEOUT_S = 60


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(subject, issuer, public_key, signing_key, ca, alt_names=()):
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
               .public_key(public_key).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=2))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if alt_names:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(alt_names)),
                                        critical=False)
    return builder.sign(signing_key, hashes.SHA256())


def _write_key(path, key):
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.TraditionalOpenSSL,
                                       serialization.NoEncryption()))
    os.chmod(path, 0o600)


def make_certificates(directory, ca_name='kvmfleet test CA'):
    """{'ca', 'cert', 'key'} paths: a CA and a localhost server certificate it signed."""
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), \
        ec.generate_private_key(ec.SECP256R1())
    ca_cert = _certificate(ca_name, ca_name, ca_key.public_key(), ca_key, ca=True)
    alt_names = (x509.DNSName('localhost'),
                 x509.IPAddress(ipaddress.ip_address('127.0.0.1')))
    server_cert = _certificate('localhost', ca_name, server_key.public_key(), ca_key, ca=False,
                               alt_names=alt_names)
    paths = {'ca': directory / 'ca.pem', 'cert': directory / 'server.pem',
             'key': directory / 'server.key'}
    paths['ca'].write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    paths['cert'].write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    _write_key(paths['key'], server_key)
    return paths


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class TlsBroker:
    """One RabbitMQ node listening for AMQP over TLS only, on 127.0.0.1:``port``."""

    def __init__(self, workdir):
        self.workdir = pathlib.Path(workdir)
        self.node = f"kvmfleet-tls-{uuidlib.uuid4().hex[:8]}@localhost"
        self.port, self.dist_port = free_port(), free_port()
        self.certs = make_certificates(self.workdir / 'pki')
        self.env = self._environment()

    def _environment(self):
        home = self.workdir / 'home'
        home.mkdir(parents=True, exist_ok=True)
        config = self.workdir / 'rabbitmq.conf'
        config.write_text(
            'listeners.tcp = none\n'
            f'listeners.ssl.default = 127.0.0.1:{self.port}\n'
            f"ssl_options.cacertfile = {self.certs['ca']}\n"
            f"ssl_options.certfile = {self.certs['cert']}\n"
            f"ssl_options.keyfile = {self.certs['key']}\n"
            'ssl_options.verify = verify_none\n'
            'ssl_options.fail_if_no_peer_cert = false\n'
            'loopback_users = none\n')
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

    def start(self):
        subprocess.run([RABBITMQ_SERVER, '-detached'], env=self.env, capture_output=True,
                       timeout=60)
        deadline = time.monotonic() + START_TIMEOUT_S
        while self.rabbitmqctl('await_startup', timeout=30).returncode != 0:
            if time.monotonic() >= deadline:
                raise RuntimeError(f"RabbitMQ node {self.node} did not start in "
                                   f"{START_TIMEOUT_S}s; logs in {self.workdir / 'log'}")
            time.sleep(1)
        return self

    def stop(self):
        self.rabbitmqctl('stop', timeout=60)
        shutil.rmtree(self.workdir / 'mnesia', ignore_errors=True)

    def url(self, user='guest', password='guest', vhost=''):
        return f"rabbit://{user}:{password}@localhost:{self.port}/{vhost}"

    def client_options(self):
        """[oslo_messaging_rabbit] options of a client that trusts this broker's CA."""
        return {'ssl': True, 'ssl_ca_file': str(self.certs['ca'])}

    def client_config(self):
        return '[oslo_messaging_rabbit]\n' + ''.join(
            f"{option} = {str(value).lower() if isinstance(value, bool) else value}\n"
            for option, value in self.client_options().items())
