"""Client side of the agent's RPC API (topic ``kvmfleet-agent``, server = host name).

Version history:

* 1.0 - Initial version: build_instance, delete_instance, stop, start,
  reboot (casts: the agent answers with scheduler instance_update),
  console_log (call).
* 1.1 - stop(force) and reboot(hard).  A 1.0 agent always powers off at
  once on stop and reboots softly: a client capped at 1.0 sends a forced
  stop as a 1.0 stop (the same effect) and refuses a hard reboot.
* 1.2 - report_now (fanout cast to every agent): report every host at once.
  A starting scheduler sends it so that its view is whole in seconds; a
  client capped below 1.2 does not send it (agents then report at their next
  interval).
* 1.3 - Moves (docs/migration.md): prepare_migration (call, destination),
  migrate_instance (cast, source; the agent answers scheduler
  migration_update), finish_migration and abort_migration (casts,
  destination).  A client capped below 1.3 refuses every move.
* 1.4 - Resize: migrate_instance(keep_source): a resize's cold move keeps
  the stopped source domain and its files (for a revert), sent as 1.4 only
  with keep_source; resize_in_place (call) and revert_resize (cast) for a
  resize that stays on its host.  A client capped below 1.4 refuses them.
* 1.5 - build_instances(builds): several builds for one host in one cast,
  each item the arguments of a build_instance (the scheduler sends the builds
  claimed for a host while its previous cast was leaving together).  A
  client capped below 1.5 sends each as a build_instance.
"""

import logging

from wire import signing, upgrade_levels

LOG = logging.getLogger(__name__)
TOPIC = 'kvmfleet-agent'
VERSION = '1.5'
# What the signature of a message to every agent names as its destination
EVERY_HOST = TOPIC
MOVES = '1.3'
RESIZE = '1.4'
BATCH = '1.5'


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

    def _to(self, host, version='1.0'):
        return self.client.prepare(server=host, version=version)

    def _cast(self, host, method, version='1.0', **kwargs):
        ctxt = signing.context_for(self.signer, method, host, kwargs, base={'host': host})
        self._to(host, version).cast(ctxt, method, **kwargs)

    def _move(self, host, method, call=False, timeout=None, version=MOVES, **kwargs):
        """A 1.3 move message (``version``); refused (upgrade_levels.capped) below it."""
        if not self.client.can_send_version(version):
            raise upgrade_levels.capped(method, version)
        ctxt = signing.context_for(self.signer, method, host, kwargs, base={'host': host})
        if not call:
            self._to(host, version).cast(ctxt, method, **kwargs)
            return None
        client = self.client.prepare(server=host, version=version, timeout=timeout)
        return client.call(ctxt, method, **kwargs)

    # The context names the destination host: an agent process serving many
    # (simulated) hosts routes each message by it; a one-host agent ignores it.

    def build_instance(self, host, instance, name, assignment, spec, request=None):
        """Verify ``assignment`` on ``host`` and launch; result via instance_update."""
        self._cast(host, 'build_instance', instance=instance, name=name,
                   assignment=assignment, spec=spec, request=request)

    def build_instances(self, host, builds):
        """Several builds for ``host``, each a dict of build_instance's arguments
        (instance, name, assignment, spec, request): one cast (1.5), or one
        build_instance each to an agent capped below 1.5."""
        if len(builds) > 1 and self.client.can_send_version(BATCH):
            self._cast(host, 'build_instances', BATCH, builds=builds)
            return
        for build in builds:
            self.build_instance(host, **build)

    def delete_instance(self, host, instance):
        self._cast(host, 'delete_instance', instance=instance)

    def stop(self, host, instance, force=False):
        """Power off; the agent asks the guest to shut down first unless ``force``."""
        if force and self.client.can_send_version('1.1'):
            self._cast(host, 'stop', '1.1', instance=instance, force=True)
        else:       # a 1.0 agent powers off at once: what force asks for
            self._cast(host, 'stop', instance=instance)

    def start(self, host, instance):
        self._cast(host, 'start', instance=instance)

    def reboot(self, host, instance, hard=False):
        """Ask the guest to reboot, or power cycle it (``hard``)."""
        if not hard:
            self._cast(host, 'reboot', instance=instance)
        elif self.client.can_send_version('1.1'):
            self._cast(host, 'reboot', '1.1', instance=instance, hard=True)
        else:
            raise upgrade_levels.capped('reboot --hard', '1.1')

    def report_now(self):
        """Ask every agent to report its hosts now (1.2, fanout); False when capped."""
        if not self.client.can_send_version('1.2'):
            LOG.info('Not asking the agents to report: agent RPC API capped below 1.2')
            return False
        ctxt = signing.context_for(self.signer, 'report_now', EVERY_HOST, {})
        self.client.prepare(fanout=True, version='1.2').cast(ctxt, 'report_now')
        return True

    def console_log(self, host, instance):
        """{'instance': uuid, 'log': text} from the host's serial console file."""
        ctxt = signing.context_for(self.signer, 'console_log', host, {'instance': instance},
                                   base={'host': host})
        return self._to(host).call(ctxt, 'console_log', instance=instance)

    # -- moves (1.2) -------------------------------------------------------------
    def prepare_migration(self, host, migration, instance, name, assignment, spec,
                          request=None, timeout=None):
        """Destination: verify ``assignment`` as for a build and prepare the instance;
        {'ok', 'reason', 'uri', 'xml'} (the libvirt URI and the domain XML there)."""
        return self._move(host, 'prepare_migration', call=True, timeout=timeout,
                          migration=migration, instance=instance, name=name,
                          assignment=assignment, spec=spec, request=request)

    def migrate_instance(self, host, migration, instance, dest_host, dest_uri, dest_xml,
                         live=True, data_uri=None, keep_source=False):
        """Source: move the guest; the agent answers scheduler migration_update.
        ``keep_source`` (1.4, a resize): the stopped source domain stays defined."""
        extra = {'keep_source': True, 'version': RESIZE} if keep_source else {}
        self._move(host, 'migrate_instance', migration=migration, instance=instance,
                   dest_host=dest_host, dest_uri=dest_uri, dest_xml=dest_xml, live=live,
                   data_uri=data_uri, **extra)

    def finish_migration(self, host, migration, instance, assignment):
        """Destination: verify the arrived guest; the agent answers instance_update."""
        self._move(host, 'finish_migration', migration=migration, instance=instance,
                   assignment=assignment)

    def resize_in_place(self, host, migration, instance, name, assignment, spec,
                        request=None, timeout=None):
        """A resize on the instance's own host: verify ``assignment``, stop, redefine;
        {'ok'} or {'ok': False, 'reason'} (then finish_migration starts it)."""
        return self._move(host, 'resize_in_place', call=True, timeout=timeout,
                          version=RESIZE, migration=migration, instance=instance, name=name,
                          assignment=assignment, spec=spec, request=request)

    def revert_resize(self, host, migration, instance, assignment):
        """Revert a resize on its own host: the old XML again, started and verified
        against ``assignment``; the agent answers instance_update."""
        self._move(host, 'revert_resize', version=RESIZE, migration=migration,
                   instance=instance, assignment=assignment)

    def abort_migration(self, host, migration, instance):
        """Destination: remove what prepare_migration (or a failed move) left."""
        self._move(host, 'abort_migration', migration=migration, instance=instance)
