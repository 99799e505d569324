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
import uuid as uuidlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.functional.rabbit_cluster import PrivateNode, client_config, free_port


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


class TlsBroker(PrivateNode):
    """One RabbitMQ node listening for AMQP over TLS only, on 127.0.0.1:``port``."""

    def __init__(self, workdir):
        workdir = pathlib.Path(workdir)
        self.certs = make_certificates(workdir / 'pki')
        port = free_port()
        super().__init__(workdir, f"kvmfleet-tls-{uuidlib.uuid4().hex[:8]}@localhost",
                         self._config(port), port)

    def _config(self, port):
        return ('listeners.tcp = none\n'
                f'listeners.ssl.default = 127.0.0.1:{port}\n'
                f"ssl_options.cacertfile = {self.certs['ca']}\n"
                f"ssl_options.certfile = {self.certs['cert']}\n"
                f"ssl_options.keyfile = {self.certs['key']}\n"
                'ssl_options.verify = verify_none\n'
                'ssl_options.fail_if_no_peer_cert = false\n'
                'loopback_users = none\n')

    def url(self, user='guest', password='guest', vhost=''):
        return f"rabbit://{user}:{password}@localhost:{self.port}/{vhost}"

    def client_options(self):
        """[oslo_messaging_rabbit] options of a client that trusts this broker's CA."""
        return {'ssl': True, 'ssl_ca_file': str(self.certs['ca'])}

    def client_config(self):
        return client_config(self.client_options())
