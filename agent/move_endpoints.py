"""The agent's move endpoints (RPC 1.3; keep_source 1.4): the scheduler decided and claimed the
destination; this agent verifies and applies (agent.driver_migration).

destination  ``prepare_migration`` (call)  verify the claim like a build, answer the
                                           libvirt URI and the domain XML here
source       ``migrate_instance`` (cast)   move the guest; answer scheduler
                                           migration_update (migrated / failed)
destination  ``finish_migration`` (cast)   verify the arrived guest; instance_update
             ``abort_migration`` (cast)    remove what prepare_migration made
one host     ``resize_in_place`` (call, 1.4)  a resize that stays on this host: verify the
                                           new claim, stop, redefine with the new XML
             ``revert_resize`` (cast, 1.4)    define the kept XML again, start and verify
                                           it against the old claim; instance_update

Mixed into AgentManager, which provides ``driver``, ``scheduler``, ``host_name``,
``_read_build`` and ``_update``.
"""

import logging

from agent import trust
from agent.exceptions import AgentError
from wire import arguments, limits, rpc
from wire.assignment import Assignment
from wire.errors import shown

LOG = logging.getLogger(__name__)
ACTIVE, ERROR = 'ACTIVE', 'ERROR'
MAX_XML_CHARS = 1 << 20      # a domain XML is a few KiB; a message is bounded anyway
MIGRATED, FAILED = 'migrated', 'failed'


class MoveEndpoints:
    """Endpoints of moves; see the module docstring."""

    @rpc.endpoint
    @trust.from_scheduler
    def prepare_migration(self, ctxt, migration, instance, name=None, assignment=None,
                          spec=None, request=None, **unknown):
        """Destination: {'ok': True, 'uri', 'data_uri', 'xml'} or {'ok': False, 'reason'}."""
        arguments.uuid(migration, 'migration')
        arguments.uuid(instance, 'instance')
        parsed_spec, parsed, image = self._read_build(instance, name, assignment, spec,
                                                      request, unknown)
        result = self.driver.prepare_incoming(parsed_spec, parsed, image)
        if not result.ok:
            return {'ok': False, 'reason': f"{result.reason}: {result.detail}"}
        try:
            xml = self.driver.incoming_xml(parsed_spec, parsed, image)
        except AgentError as exc:
            self.driver.abort_incoming(instance)
            return {'ok': False, 'reason': str(exc)}
        LOG.info('Migration %s of %s prepared on %s', migration, instance, self.host_name)
        return {'ok': True, 'uri': self.driver.migration_uri(),
                'data_uri': self.driver.migration_data_uri(), 'xml': xml}

    @rpc.endpoint
    @trust.from_scheduler
    def migrate_instance(self, ctxt, migration, instance, dest_host, dest_uri, dest_xml,
                         live=True, data_uri=None, keep_source=False):
        """Source: move the guest to ``dest_host``; the scheduler learns the outcome.
        ``keep_source`` (a resize, cold only): the stopped domain and its files stay
        here until the resize is confirmed (delete_instance) or reverted."""
        arguments.uuid(migration, 'migration')
        arguments.uuid(instance, 'instance')
        arguments.host_name(dest_host, 'dest_host')
        arguments.text(dest_uri, 'dest_uri', optional=False)
        arguments.text(data_uri, 'data_uri')
        rpc.check(dest_xml, str, 'dest_xml')
        if len(dest_xml) > MAX_XML_CHARS:
            raise rpc.invalid('dest_xml', f"longer than {MAX_XML_CHARS} characters")
        live = rpc.check(live, bool, 'live')
        keep_source = rpc.check(keep_source, bool, 'keep_source')
        if keep_source and live:
            raise rpc.invalid('keep_source', 'only a cold move keeps its source')
        try:
            result = self.driver.migrate_out(instance, dest_uri, dest_xml, live=live,
                                             data_uri=data_uri, keep_source=keep_source)
        except Exception as exc:      # a bug below: the scheduler must still hear
            LOG.exception('Migration %s of %s failed', migration, instance)
            self.scheduler.migration_update(migration, self.host_name, FAILED,
                                            f"{rpc.INTERNAL_ERROR}: {exc}"[:1000])
            return None
        if result.ok:
            LOG.info('Instance %s migrated to %s (%.3fs)', instance, dest_host,
                     result.elapsed_s)
            self.instance_states.pop(instance, None)
            self.dirty.set()
            self.scheduler.migration_update(migration, self.host_name, MIGRATED)
        else:
            self.scheduler.migration_update(migration, self.host_name, FAILED,
                                            f"{result.reason}: {result.detail}")
        return None

    @rpc.endpoint
    @trust.from_scheduler
    def finish_migration(self, ctxt, migration, instance, assignment):
        """Destination: verify the arrived guest against the claim; ACTIVE or ERROR."""
        arguments.uuid(migration, 'migration')
        arguments.uuid(instance, 'instance')
        parsed = self._own_assignment(instance, assignment)
        self._finish(instance, parsed)
        return None

    def _own_assignment(self, instance, assignment):
        parsed = Assignment.from_dict(rpc.check(assignment, dict, 'assignment'),
                                      limits=limits.from_conf())
        if parsed.instance != instance or parsed.host != self.host_name:
            raise rpc.invalid('assignment', f"is for {shown(parsed.instance)} on "
                              f"{shown(parsed.host)}, not {instance} on {self.host_name}")
        return parsed

    def _finish(self, instance, parsed):
        result = self.driver.finish_incoming(instance, parsed)
        if result.ok:
            self._update(instance, ACTIVE)
        else:
            self._update(instance, ERROR, f"{result.reason}: {result.detail}")
        return None

    @rpc.endpoint
    @trust.from_scheduler
    def resize_in_place(self, ctxt, migration, instance, name=None, assignment=None,
                        spec=None, request=None, **unknown):
        """A resize on this host: {'ok': True} (the guest stopped, its new XML defined;
        finish_migration starts it) or {'ok': False, 'reason'}."""
        arguments.uuid(migration, 'migration')
        arguments.uuid(instance, 'instance')
        parsed_spec, parsed, image = self._read_build(instance, name, assignment, spec,
                                                      request, unknown)
        result = self.driver.resize_in_place(parsed_spec, parsed, image)
        if not result.ok:
            return {'ok': False, 'reason': f"{result.reason}: {result.detail}"}
        self.dirty.set()
        LOG.info('Instance %s resized in place on %s (migration %s)', instance,
                 self.host_name, migration)
        return {'ok': True}

    @rpc.endpoint
    @trust.from_scheduler
    def revert_resize(self, ctxt, migration, instance, assignment):
        """The revert of a resize on this host: the kept XML defined again, then
        started and verified against ``assignment`` (the old claim) as finish_migration."""
        arguments.uuid(migration, 'migration')
        arguments.uuid(instance, 'instance')
        parsed = self._own_assignment(instance, assignment)
        try:
            self.driver.revert_in_place(instance)
        except AgentError as exc:
            self._update(instance, ERROR, f"revert failed: {exc}")
            return None
        self._finish(instance, parsed)
        return None

    @rpc.endpoint
    @trust.from_scheduler
    def abort_migration(self, ctxt, migration, instance):
        """Destination: remove what prepare_migration (or a failed move) left here."""
        arguments.uuid(migration, 'migration')
        arguments.uuid(instance, 'instance')
        self.driver.abort_incoming(instance)
        self.dirty.set()
        return None

    # -- start ------------------------------------------------------------------
    def remove_stale_copies(self, timeout=None):
        """Destroy the domains the store places on another host (this host was away
        while they were evacuated); asked of the scheduler before the first report.
        Returns the uuids removed; a scheduler that cannot answer removes nothing (its
        reconciliation deletes them after the report instead)."""
        managed = [d['uuid'] for d in self.domains() if 'assignment' in d]
        if not managed:
            return []
        try:
            answer = self.scheduler.placed_elsewhere(self.host_name, managed,
                                                     timeout=timeout)
            stale = [u for u in answer.get('instances', []) if u in managed]
        except Exception as exc:     # an older scheduler, or none reachable yet
            LOG.warning('Host %s: cannot ask which domains are stale (%s); the scheduler '
                        'will delete them after the report', self.host_name, exc)
            return []
        for uuid in stale:
            LOG.warning('Host %s: instance %s runs on another host now (evacuated): '
                        'destroying the stale copy here', self.host_name, uuid)
            try:
                self.driver.delete(uuid)
            except AgentError as exc:
                LOG.error('Stale copy of %s not removed: %s', uuid, exc)
        return stale
