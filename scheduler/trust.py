"""The scheduler's side of message signing: its own key, the enrolled host keys, who speaks.

The scheduler signs what it sends to agents with ``[signing] scheduler_private_key``
and believes a host's report or results only when signed with the key enrolled as
``<enrolled_hosts_dir>/<host>.pub`` (``kvmfleet enrol-host``, docs/operations.md).
"""

from oslo_config import cfg

from wire import keys, signing
from wire.scheduler_rpcapi import TOPIC

scheduler_signing_opts = signing.path_opts(
    ('scheduler_private_key', '/etc/kvmfleet/keys/scheduler.key',
     'This scheduler\'s Ed25519 private key (PEM), made by `kvmfleet keygen`. It signs '
     'every order sent to agents; agents trust its public key (`kvmfleet-agent '
     'trust-scheduler`).'),
    ('enrolled_hosts_dir', '/etc/kvmfleet/keys/hosts',
     'Directory of enrolled host keys, one <host>.pub per host (`kvmfleet enrol-host`). A '
     'host\'s reports and results are refused unless signed with its key; read again when '
     'the directory changes.'))


def list_opts():
    return [('signing', scheduler_signing_opts)]


def signer_from_conf(conf=cfg.CONF):
    """The scheduler's Signer (None when signing is not required and there is no key)."""
    path = conf.signing.scheduler_private_key
    return signing.load_signer(path, conf.signing.required, 'make one with `kvmfleet keygen`',
                               name=keys.key_name_of(path))


def verifier_from_conf(conf=cfg.CONF):
    """The Verifier of host messages over ``[signing] enrolled_hosts_dir``."""
    return signing.directory_verifier(conf.signing.enrolled_hosts_dir, conf)


# -- who a message speaks for (signer_of for signing.verified) --------------------
def reporting_host(manager, kwargs):
    """report_host: the name inside the reported topology."""
    host = kwargs.get('host')
    return host.get('name') if isinstance(host, dict) else None


def updating_host(manager, kwargs):
    """instance_update: its ``host`` argument."""
    return kwargs.get('host')


def batch_host(manager, kwargs):
    """instance_updates: the hosts its results name, in order (one, from a real agent; a
    simulated fleet's batch may name several, which must then share the signer's key)."""
    updates = kwargs.get('updates')
    if not isinstance(updates, list) or not updates:
        return None
    hosts = [item.get('host') if isinstance(item, dict) else None for item in updates]
    return tuple(dict.fromkeys(hosts)) if all(isinstance(h, str) for h in hosts) else None


def scheduler_target(manager):
    return TOPIC


def from_host(signer_of):
    """Endpoint decorator: signed by the host ``signer_of`` names (put under rpc.endpoint)."""
    return signing.verified(signer_of, scheduler_target)
