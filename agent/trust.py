"""The agent's side of message signing: its host key, and the schedulers it obeys.

The agent signs its reports and results with ``[signing] agent_private_key``
(``kvmfleet-agent keygen``; the scheduler enrols the public half under the host's
name) and obeys an order only when a scheduler whose public key sits in
``[signing] trusted_schedulers_dir`` signed it for this very host.
"""

from oslo_config import cfg

from wire import agent_rpcapi, signing

agent_signing_opts = signing.path_opts(
    ('agent_private_key', '/etc/kvmfleet/keys/agent.key',
     'This agent\'s Ed25519 private key (PEM), made by `kvmfleet-agent keygen`; it signs the '
     'host\'s reports and results. A simulated fleet signs every host with it (enrol its '
     'public key under each host name).'),
    ('trusted_schedulers_dir', '/etc/kvmfleet/keys/schedulers',
     'Directory of the public keys of the schedulers this agent obeys, one <name>.pub each '
     '(`kvmfleet-agent trust-scheduler`). An order not signed by one of them is refused; '
     'read again when the directory changes.'))


def list_opts():
    return [('signing', agent_signing_opts)]


def signer_from_conf(conf=cfg.CONF):
    """The host key's Signer (None when signing is not required and there is no key)."""
    return signing.load_signer(conf.signing.agent_private_key, conf.signing.required,
                               'make one with `kvmfleet-agent keygen`, then enrol it on the '
                               'scheduler')


def verifier_from_conf(conf=cfg.CONF):
    """The Verifier of scheduler orders over ``[signing] trusted_schedulers_dir``."""
    return signing.directory_verifier(conf.signing.trusted_schedulers_dir, conf)


def _any_scheduler(manager, kwargs):
    return signing.ANY_ENROLLED


def _this_host(manager):
    return manager.host_name


def _every_host(manager):
    return agent_rpcapi.EVERY_HOST


# Endpoint decorator of the agent's orders (put under rpc.endpoint): signed by a
# trusted scheduler, for this host.
from_scheduler = signing.verified(_any_scheduler, _this_host)
# ... and of a request to every agent (a fanout): signed for all of them
to_every_host = signing.verified(_any_scheduler, _every_host)


def guard(managers, verifier):
    """Make every manager refuse orders ``verifier`` does not accept (before serving)."""
    for manager in managers:
        manager.verifier = verifier
