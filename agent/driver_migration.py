"""Moving an instance between hosts: the InstanceDriver's migration methods.

The scheduler claimed the destination's exact assignment before anything
moves; the agents only verify and apply it:

destination  ``prepare_incoming``  verify the claim like a build, make the instance
                                   directory (disk overlay, console log); define nothing
             ``incoming_xml``      the domain XML the guest gets here (the build's builder)
             ``migration_uri``     where the source's libvirtd reaches this one
source       ``migrate_out``       live: libvirt peer-to-peer live migration with that XML;
                                   cold: stop, move the definition offline
destination  ``finish_incoming``   start a cold-moved guest, plug the claimed SR-IOV VFs,
                                   check the running domain against the claim
             ``abort_incoming``    remove what prepare_incoming made
one host     ``resize_in_place``   a resize on the guest's own host: verify the new claim
                                   beside the current one, stop the guest, keep its XML,
                                   define the new XML (finish_incoming starts it)
             ``revert_in_place``   define the kept XML again (finish_incoming starts it)

Expected failures return a LaunchResult with a reason code (agent.results),
as a build does; on any failure of ``migrate_out`` the guest is still defined
on the source, running if it was.
"""

import dataclasses
import logging
import os
import shutil

from agent.domain import DomainBuildError, domain_name, domain_xml, instance_uuid
from agent.domain import migration as xml_facts
from agent.exceptions import AgentError, LibvirtError
from agent.results import (
    BUILD_FAILED,
    COLD_MIGRATION_UNSUPPORTED,
    FILES_FAILED,
    INSTANCE_NOT_FOUND,
    INSTANCE_NOT_RUNNING,
    LIBVIRT_UNAVAILABLE,
    LIVE_MIGRATION_UNSUPPORTED,
    MIGRATION_FAILED,
    MIGRATION_TIMEOUT,
    PORT_ATTACH_FAILED,
    PORT_DETACH_FAILED,
    VERIFY_FAILED,
    BuildFailed,
    LaunchResult,
)

LOG = logging.getLogger(__name__)

BUILDING_MARKER = 'building'    # agent.driver's: an instance directory in flight
INCOMING_XML = 'incoming.xml'     # the destination XML, kept until finish_incoming
RESIZE_SOURCE_XML = 'resize-source.xml'   # a same-host resize's old XML, for a revert


class MigrationError(AgentError):
    """The destination XML cannot be made (``incoming_xml``)."""


@dataclasses.dataclass(frozen=True, slots=True)
class Incoming:
    """A migration prepared on this host and not finished yet."""

    assignment: object
    xml: str


class MigrationMixin:
    """InstanceDriver's migration methods (see the module docstring)."""

    # Destination

    def prepare_incoming(self, spec, assignment, image, ports=None, flavor=None):
        """Verify the claimed assignment like a build and make the instance directory.

        Nothing is defined in libvirt.  Refusals carry the build's reason codes
        (VERIFY_FAILED with violations, ALREADY_EXISTS, IMAGE_INVALID, ...).
        Until finish_incoming or abort_incoming, builds on this host see the
        assignment's pCPUs and pages as taken.
        """
        started = self._clock()
        with self._in_flight.operating(instance_uuid(assignment.instance)) as uuid:
            name = domain_name(uuid)
            with self._build_lock:
                try:
                    xml, image, settings = self._prepare(uuid, name, spec, assignment, image,
                                                         ports, flavor)
                except BuildFailed as exc:
                    return LaunchResult(uuid, None, exc.reason, exc.detail, exc.violations)
                try:
                    self._create_files(uuid, image, settings)
                    with open(os.path.join(self.instance_dir(uuid), INCOMING_XML), 'w',
                              encoding='utf-8') as handle:
                        handle.write(xml)
                except BuildFailed as exc:
                    return self._failed(uuid, name, exc)
                except OSError as exc:
                    return self._failed(uuid, name, BuildFailed(FILES_FAILED, str(exc)))
                self._incoming[uuid] = Incoming(assignment, xml)
        return LaunchResult(uuid, 'prepared', elapsed_s=self._clock() - started)

    def incoming_xml(self, spec, assignment, image, ports=None, flavor=None):
        """The domain XML the guest will have on this host (raises MigrationError)."""
        uuid = instance_uuid(assignment.instance)
        try:
            resolved = self._resolve_image(image)
            return domain_xml(spec, assignment, resolved, self._settings(uuid, resolved), ports,
                              flavor)
        except BuildFailed as exc:
            raise MigrationError(f"{exc.reason}: {exc.detail}") from exc
        except DomainBuildError as exc:
            raise MigrationError(str(exc)) from exc

    def migration_uri(self):
        """The libvirt URI the source must migrate to ([agent] migration_uri or derived)."""
        return self.config.migration_uri or self.conn.default_migration_uri()

    def migration_data_uri(self):
        """Where the guest's memory should be sent ([agent] migration_data_uri; None:
        libvirt's default)."""
        return self.config.migration_data_uri

    def finish_incoming(self, instance, assignment, power_on=True):
        """Start a cold-moved guest (``power_on``), plug the claimed VFs, verify the domain.

        VERIFY_FAILED lists how the domain differs from the claim; the domain is
        left as it is (the scheduler decides what happens to it).
        """
        started = self._clock()
        with self._in_flight.operating(instance_uuid(instance)) as uuid:
            name = domain_name(uuid)
            try:
                state = self.conn.domain_state(name)
                if state is None:
                    return LaunchResult(uuid, None, INSTANCE_NOT_FOUND,
                                        f"domain {name} is not on this host")
                if state == 'shutoff' and power_on:
                    self._start_and_wait(name)
                    state = 'running'
                self._plug_direct_ports(uuid, name)
                problems = self._running_problems(name, assignment, state)
            except BuildFailed as exc:
                return LaunchResult(uuid, self.state(uuid), exc.reason, exc.detail)
            except LibvirtError as exc:
                return LaunchResult(uuid, None, LIBVIRT_UNAVAILABLE, str(exc))
            if problems:
                return LaunchResult(uuid, state, VERIFY_FAILED, '; '.join(problems))
            self._forget_incoming(uuid)
        return LaunchResult(uuid, state, elapsed_s=self._clock() - started)

    def abort_incoming(self, instance):
        """Remove what prepare_incoming made, and a domain a failed migration left here.

        Only an incoming domain (paused: its memory still arriving) is removed. A
        domain that runs or is defined off here was moved by libvirt (the source
        no longer has it, even if its agent never said so): it and its files are
        kept, for the scheduler to decide; so is one whose migration finished.
        Returns True when something was kept.
        """
        with self._in_flight.operating(instance_uuid(instance)) as uuid:
            if uuid not in self._incoming and not os.path.exists(self._incoming_path(uuid)):
                return False
            state = self._state_or_none(uuid)
            if state not in (None, 'paused'):
                LOG.warning('abort of incoming %s: its domain is %s here, so libvirt moved it: '
                            'kept', uuid, state)
                return True
            self._incoming.pop(uuid, None)
            error = self._remove(uuid, domain_name(uuid))
            if error is not None:
                LOG.warning('abort of incoming %s incomplete: %s', uuid, error)
            return False

    def _incoming_path(self, uuid):
        return os.path.join(self.instance_dir(uuid), INCOMING_XML)

    def _incoming_xml(self, uuid):
        incoming = self._incoming.get(uuid)
        if incoming is not None:
            return incoming.xml
        try:     # prepared before the agent restarted
            with open(self._incoming_path(uuid), encoding='utf-8') as handle:
                return handle.read()
        except FileNotFoundError:
            return None

    def _forget_incoming(self, uuid):
        self._incoming.pop(uuid, None)
        for entry in (INCOMING_XML, BUILDING_MARKER):
            try:
                os.unlink(os.path.join(self.instance_dir(uuid), entry))
            except FileNotFoundError:
                pass

    def _plug_direct_ports(self, uuid, name):
        """Attach the claimed VFs of the destination XML the domain does not have yet."""
        wanted = self._incoming_xml(uuid)
        if wanted is None:
            return
        # libvirt's XML of a plugged VF carries aliases and guest addresses: compare VFs
        present = {xml_facts.vf_address(port)
                   for port in xml_facts.direct_ports(self.conn.domain_xml(name))}
        for port in xml_facts.direct_ports(wanted):
            if xml_facts.vf_address(port) not in present:
                try:
                    self.conn.attach_device(name, port)
                except LibvirtError as exc:
                    raise BuildFailed(PORT_ATTACH_FAILED, str(exc))

    def _running_problems(self, name, assignment, state):
        live = self.conn.domain_xml(name)
        if state == 'running':
            pins = self.conn.vcpu_pin_info(name)
            emulator = self.conn.emulator_pin_info(name)
        else:     # a stopped guest: its definition is what will run
            pins, emulator = xml_facts.defined_pins(live)
        return xml_facts.running_violations(live, assignment, pins, emulator)

    def _held_by_incoming(self, uuid, defined):
        """Assignments of migrations prepared here, other than ``uuid``'s, whose domain is
        not among ``defined`` yet (verify counts them as taken)."""
        return [incoming.assignment for other, incoming in list(self._incoming.items())
                if other != uuid and other not in defined]

    # One host (a resize that stays)

    def resize_in_place(self, spec, assignment, image, ports=None, flavor=None):
        """Redefine the guest with the new claim on this host; ``resized`` or a refusal.

        The new assignment is verified like a build's beside what every domain here
        holds, the guest's current one included (the scheduler holds both claims).
        The guest is powered off, its XML kept in its instance directory, and the new
        XML defined in place; on a failure to define, the old one stays and the guest
        is started again.
        """
        started = self._clock()
        with self._in_flight.operating(instance_uuid(assignment.instance)) as uuid:
            name = domain_name(uuid)
            with self._build_lock:
                try:
                    state = self.conn.domain_state(name)
                    if state is None:
                        return LaunchResult(uuid, None, INSTANCE_NOT_FOUND,
                                            f"domain {name} is not on this host")
                    violations = self._verify(assignment, count_own=True)
                    if violations:
                        return LaunchResult(uuid, state, VERIFY_FAILED,
                                            '; '.join(map(str, violations)), tuple(violations))
                    xml = self.incoming_xml(spec, assignment, image, ports, flavor)
                    old = self.conn.domain_xml(name)
                    with open(self._resize_source_path(uuid), 'w', encoding='utf-8') as handle:
                        handle.write(old)
                    if state != 'shutoff':
                        self.stop(uuid, self.config.graceful_shutdown_timeout)
                    self._redefine(name, xml, restart=state != 'shutoff')
                except MigrationError as exc:
                    return LaunchResult(uuid, state, BUILD_FAILED, str(exc))
                except BuildFailed as exc:
                    return LaunchResult(uuid, self._state_or_none(uuid), exc.reason, exc.detail)
                except LibvirtError as exc:
                    return LaunchResult(uuid, None, LIBVIRT_UNAVAILABLE, str(exc))
                except OSError as exc:
                    return LaunchResult(uuid, state, FILES_FAILED, str(exc))
        return LaunchResult(uuid, 'resized', elapsed_s=self._clock() - started)

    def revert_in_place(self, instance):
        """Power off the resized guest and define its kept XML again (True), or False
        when nothing was kept (not resized in place here)."""
        with self._in_flight.operating(instance_uuid(instance)) as uuid:
            path = self._resize_source_path(uuid)
            try:
                with open(path, encoding='utf-8') as handle:
                    old = handle.read()
            except FileNotFoundError:
                return False
            name = domain_name(uuid)
            if self.conn.domain_state(name) not in (None, 'shutoff'):
                self.conn.destroy_domain(name)
            self.conn.define_domain(old)
            os.unlink(path)
            return True

    def _resize_source_path(self, uuid):
        return os.path.join(self.instance_dir(uuid), RESIZE_SOURCE_XML)

    def _redefine(self, name, xml, restart):
        try:
            self.conn.define_domain(xml)
        except LibvirtError as exc:
            if restart:
                self._restart_after_failure(name)
            raise BuildFailed(MIGRATION_FAILED, ' '.join(str(exc).split()))

    # Source

    def migrate_out(self, instance, dest_uri, dest_xml, live=True, timeout=None,
                    data_uri=None, keep_source=False):
        """Move the guest to the libvirtd at ``dest_uri`` with ``dest_xml``.

        live: a libvirt live migration (peer-to-peer, PERSIST_DEST, UNDEFINE_SOURCE),
        SR-IOV direct ports unplugged first (the destination plugs its own in
        finish_incoming); SEV and whole-device passthrough guests are refused
        with LIVE_MIGRATION_UNSUPPORTED.  ``timeout`` (default [agent]
        migration_timeout) aborts a copy that does not converge.
        cold: the guest is powered off (gracefully first) and its definition
        moved offline with ``dest_xml``; finish_incoming starts it there.
        On success the source's instance directory is removed; on failure the
        guest is still defined here, running if it was.  ``keep_source`` (a
        resize, cold): the stopped domain and its directory stay here, for a
        revert to start again (a confirm deletes them).
        """
        started = self._clock()
        with self._in_flight.operating(instance_uuid(instance)) as uuid:
            name = domain_name(uuid)
            try:
                state = self.conn.domain_state(name)
                source_xml = self.conn.domain_xml(name) if state is not None else None
            except LibvirtError as exc:
                return LaunchResult(uuid, None, LIBVIRT_UNAVAILABLE, str(exc))
            if state is None:
                return LaunchResult(uuid, None, INSTANCE_NOT_FOUND,
                                    f"domain {name} is not on this host")
            try:
                if live:
                    self._move_live(uuid, state, source_xml, dest_uri, dest_xml, timeout,
                                    data_uri)
                else:
                    self._move_cold(uuid, state, source_xml, dest_uri, dest_xml, keep_source)
            except BuildFailed as exc:
                return LaunchResult(uuid, self._state_or_none(uuid), exc.reason, exc.detail)
            if not keep_source:
                self._remove_files(uuid)
        return LaunchResult(uuid, 'migrated', elapsed_s=self._clock() - started)

    def _move_live(self, uuid, state, source_xml, dest_uri, dest_xml, timeout, data_uri):
        name = domain_name(uuid)
        if state != 'running':
            raise BuildFailed(INSTANCE_NOT_RUNNING, f"domain {name} is {state}: a live "
                                                    'migration needs a running guest')
        blocker = xml_facts.live_migration_blocker(source_xml)
        if blocker:
            raise BuildFailed(LIVE_MIGRATION_UNSUPPORTED, blocker)
        ports = xml_facts.direct_ports(source_xml)
        self._unplug(name, ports)
        timeout = self.config.migration_timeout if timeout is None else timeout
        started = self._clock()
        try:
            self.conn.migrate(name, dest_uri, xml_facts.without_direct_ports(dest_xml),
                              live=True, data_uri=data_uri,
                              copy_storage=xml_facts.has_local_disk(source_xml),
                              timeout=timeout or None,
                              bandwidth_mib=self.config.migration_bandwidth or None)
        except LibvirtError as exc:
            self._replug(name, ports)
            timed_out = timeout and self._clock() - started >= timeout
            raise BuildFailed(MIGRATION_TIMEOUT if timed_out else MIGRATION_FAILED,
                              ' '.join(str(exc).split()))

    def _move_cold(self, uuid, state, source_xml, dest_uri, dest_xml, keep_source=False):
        name = domain_name(uuid)
        if xml_facts.has_local_disk(source_xml):
            raise BuildFailed(COLD_MIGRATION_UNSUPPORTED, (
                'the guest has a local disk overlay, which an offline move does not copy: '
                'migrate it live'))
        running = state != 'shutoff'
        if running:
            self.stop(uuid, self.config.graceful_shutdown_timeout)
        try:
            self.conn.migrate(name, dest_uri, dest_xml, live=False, keep_source=keep_source)
        except LibvirtError as exc:
            if running:
                self._restart_after_failure(name)
            raise BuildFailed(MIGRATION_FAILED, ' '.join(str(exc).split()))

    def _restart_after_failure(self, name):
        try:
            self.conn.start_domain(name)
        except LibvirtError as exc:
            LOG.warning('%s stays off after its failed cold migration: %s', name, exc)

    def _unplug(self, name, ports):
        done = []
        for port in ports:
            try:
                self.conn.detach_device(name, port)
            except LibvirtError as exc:
                self._replug(name, done)
                raise BuildFailed(PORT_DETACH_FAILED, str(exc))
            done.append(port)

    def _replug(self, name, ports):
        for port in ports:
            try:
                self.conn.attach_device(name, port)
            except LibvirtError as exc:
                LOG.warning('%s: could not plug its port back after a failed migration: %s',
                            name, exc)

    def _state_or_none(self, uuid):
        try:
            return self.state(uuid)
        except LibvirtError:
            return None

    def _remove_files(self, uuid):
        """The instance directory of a guest that left (console log, overlay)."""
        shutil.rmtree(self.instance_dir(uuid), ignore_errors=True)
