"""Client side of the agent's RPC API (topic ``kvmfleet-agent``, server = host name).

Version history:

* 1.0 - Initial version: build_instance, delete_instance, stop, start,
  reboot (casts: the agent answers with scheduler instance_update),
  console_log (call).
"""

from wire import signing, upgrade_levels

TOPIC = 'kvmfleet-agent'
VERSION = '1.0'


class AgentAPI:
    """Sends work to the agent of one host.

    The client is capped by ``[upgrade_levels] agent`` (wire/upgrade_levels.py);
    a bad value raises InvalidUpgradeLevel here.  The scheduler passes its key's
    ``signer`` (wire/signing.py): agents obey only messages it signed.
    """

    def __init__(self, timeout=None, url=None, signer=None):
        self.client = upgrade_levels.get_rpc_client('agent', TOPIC, VERSION,
                                                    timeout=timeout, url=url)
        self.signer = signer

    def _to(self, host):
        return self.client.prepare(server=host, version='1.0')

    def _cast(self, host, method, **kwargs):
        ctxt = signing.context_for(self.signer, method, host, kwargs, base={'host': host})
        self._to(host).cast(ctxt, method, **kwargs)

    # The context names the destination host: an agent process serving many
    # (simulated) hosts routes each message by it; a one-host agent ignores it.

    def build_instance(self, host, instance, name, assignment, spec, request=None):
        """Verify ``assignment`` on ``host`` and launch; result via instance_update."""
        self._cast(host, 'build_instance', instance=instance, name=name,
                   assignment=assignment, spec=spec, request=request)

    def delete_instance(self, host, instance):
        self._cast(host, 'delete_instance', instance=instance)

    def stop(self, host, instance):
        self._cast(host, 'stop', instance=instance)

    def start(self, host, instance):
        self._cast(host, 'start', instance=instance)

    def reboot(self, host, instance):
        self._cast(host, 'reboot', instance=instance)

    def console_log(self, host, instance):
        """{'instance': uuid, 'log': text} from the host's serial console file."""
        ctxt = signing.context_for(self.signer, 'console_log', host, {'instance': instance},
                                   base={'host': host})
        return self._to(host).call(ctxt, 'console_log', instance=instance)
