"""Build, launch and manage instances on this host through the libvirt seam.

``build_and_launch`` verifies the assignment, builds the domain XML, creates
the instance directory (overlay disk, console log), defines and starts the
domain and waits until it runs.  Any failure removes everything the attempt
created and returns the reason; nothing is left half-built.  A ``building``
marker in the instance directory lives exactly as long as a build is in
flight, so ``reconcile`` can tell an interrupted build from a stopped guest.
"""

import dataclasses
import functools
import logging
import os
import shutil
import threading
import time
import uuid as uuid_lib

from agent import images
from agent.domain import (
    DomainBuildError,
    DomainSettings,
    MetadataError,
    domain_name,
    domain_xml,
    instance_uuid,
)
from agent.domain.metadata import MetadataCache
from agent.driver_migration import MigrationMixin
from agent.exceptions import LibvirtError
from agent.inflight import InFlight
from agent.results import (  # noqa: F401  (the reasons are the driver's API)
    ALREADY_EXISTS,
    BUILD_FAILED,
    DEFINE_FAILED,
    FILES_FAILED,
    IMAGE_INVALID,
    LAUNCH_TIMEOUT,
    LIBVIRT_UNAVAILABLE,
    START_FAILED,
    VERIFY_FAILED,
    LaunchResult,
)
from agent.results import BuildFailed as _BuildFailed
from agent.verify import pages_left, verify

LOG = logging.getLogger(__name__)

BUILDING_MARKER = 'building'
CONSOLE_LOG = 'console.log'
DISK_OVERLAY = 'disk.qcow2'
POLL_INTERVAL_S = 0.02
VHOST_NET_DEVICE = '/dev/vhost-net'
CONSOLE_TAIL_BYTES = 64 * 1024


@dataclasses.dataclass(frozen=True, slots=True)
class AdoptedInstance:
    uuid: str
    spec: object
    assignment: object
    state: str


@dataclasses.dataclass(frozen=True, slots=True)
class ReconcileResult:
    adopted: tuple = ()       # AdoptedInstance
    cleaned: tuple = ()       # uuids of half-built instances removed
    unreadable: tuple = ()    # domain names whose kvmfleet metadata does not parse


def _marks_busy(method):
    """The instance (first argument) is busy while the method runs (agent.inflight)."""
    @functools.wraps(method)
    def marked(self, instance, *args, **kwargs):
        with self._in_flight.operating(instance_uuid(instance)):
            return method(self, instance, *args, **kwargs)
    return marked


class InstanceDriver(MigrationMixin):
    """Instances on one host.  ``host`` is a HostTopology or a callable returning one.

    ``host_features`` carries what the domain capabilities said: sev_cbitpos,
    sev_reduced_phys_bits, secure_boot_available, stateless_loader, machine_type.
    """

    def __init__(self, conn, host, config, pci_whitelist=None, vhost_net=None,
                 host_features=None, clock=time.monotonic, sleep=time.sleep):
        self.conn = conn
        self._host = host if callable(host) else (lambda: host)
        self.config = config
        self.pci_whitelist = pci_whitelist
        self.vhost_net = os.path.exists(VHOST_NET_DEVICE) if vhost_net is None else vhost_net
        self.host_features = dict(host_features or {})
        self._clock = clock
        self._sleep = sleep
        self._build_lock = threading.Lock()
        self._metadata = MetadataCache()
        self._in_flight = InFlight()     # domain UUIDs being built, powered or deleted
        self._incoming = {}      # uuid -> driver_migration.Incoming (prepared migrations)

    def busy(self, instance):
        """Whether a build, power change or delete of ``instance`` is in flight."""
        return instance_uuid(instance) in self._in_flight

    # Paths

    def instance_dir(self, instance):
        """The instance's directory; ``instance`` is its id or its domain UUID."""
        return os.path.join(self.config.instances_path, instance_uuid(instance))

    def console_path(self, instance):
        return os.path.join(self.instance_dir(instance), CONSOLE_LOG)

    # Build

    def build_and_launch(self, spec, assignment, image, ports=None, flavor=None):
        """Verify, build, define, start and wait for running; clean up on any failure.

        Returns a LaunchResult; ``reason`` names the failure (VERIFY_FAILED with
        ``violations``, ALREADY_EXISTS, IMAGE_INVALID, BUILD_FAILED, FILES_FAILED,
        DEFINE_FAILED, START_FAILED, LAUNCH_TIMEOUT, LIBVIRT_UNAVAILABLE: libvirt could not
        be asked, e.g. while the agent reconnects after a libvirtd restart).
        """
        started = self._clock()
        with self._in_flight.operating(instance_uuid(assignment.instance)) as uuid:
            result = self._build(uuid, spec, assignment, image, ports, flavor)
        # the agent manager logs every result at INFO/WARNING; one line per build is enough
        LOG.debug('build of %s: %s in %.3f s', uuid, result.reason or 'running',
                  self._clock() - started)
        return dataclasses.replace(result, elapsed_s=self._clock() - started)

    def _build(self, uuid, spec, assignment, image, ports, flavor):
        name = domain_name(uuid)
        with self._build_lock:      # verify -> define is atomic among this agent's builds
            try:
                xml, image, settings = self._prepare(uuid, name, spec, assignment, image, ports,
                                                     flavor)
            except _BuildFailed as exc:
                return LaunchResult(uuid, None, exc.reason, exc.detail, exc.violations)
            try:
                self._create_files(uuid, image, settings)
                self._define(xml)
            except _BuildFailed as exc:
                return self._failed(uuid, name, exc)
        launched = self._clock()
        try:
            self._start_and_wait(name)
            os.unlink(os.path.join(self.instance_dir(uuid), BUILDING_MARKER))
        except _BuildFailed as exc:
            return self._failed(uuid, name, exc)
        except OSError as exc:
            return self._failed(uuid, name, _BuildFailed(FILES_FAILED, str(exc)))
        return LaunchResult(uuid, 'running', launch_s=self._clock() - launched)

    def _prepare(self, uuid, name, spec, assignment, image, ports, flavor):
        """Checks and XML, before anything is created: (xml, resolved image, settings)."""
        self._check_absent(uuid, name)
        violations = self._verify(assignment)
        if violations:
            raise _BuildFailed(VERIFY_FAILED, '; '.join(map(str, violations)), tuple(violations))
        image = self._resolve_image(image)
        settings = self._settings(uuid, image)
        try:
            return domain_xml(spec, assignment, image, settings, ports, flavor), image, settings
        except DomainBuildError as exc:
            raise _BuildFailed(BUILD_FAILED, str(exc))

    def _failed(self, uuid, name, failure):
        error = self._remove(uuid, name)
        detail = failure.detail
        if error is not None:
            detail += f"; cleanup incomplete ({error}): reconcile removes the rest"
        return LaunchResult(uuid, None, failure.reason, detail)

    def _check_absent(self, uuid, name):
        try:
            exists = self.conn.domain_state(name) is not None
        except LibvirtError as exc:
            raise _BuildFailed(LIBVIRT_UNAVAILABLE, str(exc))
        if exists:
            raise _BuildFailed(ALREADY_EXISTS, f"domain {name} already exists")
        if os.path.exists(self.instance_dir(uuid)):
            raise _BuildFailed(ALREADY_EXISTS, f"{self.instance_dir(uuid)} already exists "
                                               '(an interrupted build: reconcile removes it)')

    def _verify(self, assignment, count_own=False):
        """Violations of ``assignment`` on this host; ``count_own`` (a resize in place):
        the instance's current domain counts as another's (both claims are held)."""
        host = self._host()
        pools = {(c.host_cell, c.page_size_kb) for c in assignment.cells if c.page_size_kb != 4}
        free = {}
        if pools:
            try:
                free = self.conn.free_pages({cell for cell, _ in pools},
                                            {size for _, size in pools})
            except LibvirtError as exc:
                raise _BuildFailed(VERIFY_FAILED, str(exc))
        found = self._kvmfleet_domains()[0]
        others = [other for _, _, _, other, _ in found]
        if count_own:
            others = [dataclasses.replace(other, instance=f"{other.instance} (current)")
                      if other.instance == assignment.instance else other for other in others]
        # migrations prepared here hold their pCPUs and pages before their domain exists
        promised = self._held_by_incoming(instance_uuid(assignment.instance),
                                          {uuid for _, uuid, _, _, _ in found})
        return verify(host, pages_left(free, promised), others + promised, assignment,
                      self.pci_whitelist)

    def _resolve_image(self, image):
        resolved = dict(image)
        for key in ('kernel', 'initrd', 'disk'):
            if resolved.get(key):
                path = os.path.join(self.config.images_path, resolved[key])
                if not os.path.isfile(path):
                    raise _BuildFailed(IMAGE_INVALID, f"image {key}: {path} is not a file")
                resolved[key] = path
        return resolved

    def _settings(self, uuid, image):
        features = self.host_features
        return DomainSettings(
            instance_dir=self.instance_dir(uuid), console_log=self.console_path(uuid),
            disk_path=(os.path.join(self.instance_dir(uuid), DISK_OVERLAY)
                       if image.get('disk') else None),
            virt_type=self.config.virt_type, cpu_mode=self.config.cpu_mode,
            cpu_model=self.config.cpu_model, seclabel_model=self.config.seclabel_model,
            vhost_net=self.vhost_net, machine_type=features.get('machine_type'),
            sev_cbitpos=features.get('sev_cbitpos'),
            sev_reduced_phys_bits=features.get('sev_reduced_phys_bits'),
            secure_boot_available=bool(features.get('secure_boot_available')),
            stateless_loader=features.get('stateless_loader'),
            multiqueue_default=self.config.multiqueue_default, networks=self.config.networks)

    def _create_files(self, uuid, image, settings):
        path = self.instance_dir(uuid)
        try:
            os.makedirs(self.config.instances_path, mode=0o755, exist_ok=True)
            os.mkdir(path, 0o755)   # QEMU's user must traverse it to reach disk and console
            os.chmod(path, 0o755)
            with open(os.path.join(path, BUILDING_MARKER), 'w') as marker:
                marker.write(f"{time.time():.3f}\n")
            if settings.disk_path:
                images.create_overlay(image['disk'], settings.disk_path,
                                      image.get('disk_format', 'qcow2'))
        except (OSError, images.ImageError) as exc:
            raise _BuildFailed(FILES_FAILED, str(exc))

    def _define(self, xml):
        try:
            self.conn.define_domain(xml)
        except LibvirtError as exc:   # schema messages span lines: one line for the reason
            raise _BuildFailed(DEFINE_FAILED, ' '.join(str(exc).split()))

    def _start_and_wait(self, name):
        try:
            self.conn.start_domain(name)
        except LibvirtError as exc:
            raise _BuildFailed(START_FAILED, str(exc))
        self._wait_running(name)

    def _wait_running(self, name):
        deadline = self._clock() + self.config.launch_timeout
        state = None
        while self._clock() < deadline:
            try:
                state = self.conn.domain_state(name)
            except LibvirtError as exc:
                raise _BuildFailed(START_FAILED, str(exc))
            if state == 'running':
                return
            if state in (None, 'shutoff', 'crashed'):
                raise _BuildFailed(START_FAILED, f"domain {name} is {state or 'gone'} "
                                                 'right after start')
            self._sleep(POLL_INTERVAL_S)
        raise _BuildFailed(LAUNCH_TIMEOUT, f"domain {name} is {state} after "
                                           f"{self.config.launch_timeout:g} s")

    def _remove(self, uuid, name):
        """Remove the domain, then the instance directory; returns the error, if any.

        When the domain cannot be removed the directory stays (with the building
        marker of a failed build), so reconcile can finish the job later.
        """
        try:
            if self.conn.domain_state(name) is not None:
                self.conn.destroy_domain(name)
                self.conn.undefine_domain(name)
        except LibvirtError as exc:
            LOG.warning('could not remove domain %s: %s', name, exc)
            return exc
        shutil.rmtree(self.instance_dir(uuid), ignore_errors=True)
        return None

    # Lifecycle: ``instance`` is the instance id (Assignment.instance) or its domain UUID.

    def state(self, instance):
        """The domain's state name, or None when there is no such instance."""
        return self.conn.domain_state(domain_name(instance_uuid(instance)))

    @_marks_busy
    def stop(self, instance, graceful_timeout=0.0):
        """Power off: ask the guest first for up to ``graceful_timeout`` s, then pull the plug."""
        name = domain_name(instance_uuid(instance))
        if graceful_timeout > 0 and self.conn.domain_state(name) == 'running':
            self.conn.shutdown_domain(name)
            deadline = self._clock() + graceful_timeout
            while self._clock() < deadline and self.conn.domain_state(name) == 'running':
                self._sleep(POLL_INTERVAL_S)
        self.conn.destroy_domain(name)

    @_marks_busy
    def start(self, instance):
        """Start a stopped instance and wait until it runs; LaunchResult like a build."""
        uuid = instance_uuid(instance)
        name = domain_name(uuid)
        started = self._clock()
        try:
            self.conn.start_domain(name)
            self._wait_running(name)
        except LibvirtError as exc:
            return LaunchResult(uuid, self.state(uuid), START_FAILED, str(exc))
        except _BuildFailed as exc:
            return LaunchResult(uuid, self.state(uuid), exc.reason, exc.detail)
        return LaunchResult(uuid, 'running', elapsed_s=self._clock() - started)

    @_marks_busy
    def reboot(self, instance, hard=False):
        """Soft reboot asks the guest; hard reboot powers off and starts again."""
        uuid = instance_uuid(instance)
        if not hard:
            self.conn.reboot_domain(domain_name(uuid))
            return LaunchResult(uuid, self.state(uuid))
        self.conn.destroy_domain(domain_name(uuid))
        return self.start(uuid)

    @_marks_busy
    def delete(self, instance):
        """Remove the instance: domain, overlay, console log, directory.  Idempotent.

        Raises LibvirtError when libvirt refuses to remove the domain (files are kept).
        """
        uuid = instance_uuid(instance)
        error = self._remove(uuid, domain_name(uuid))
        if error is not None:
            raise error

    def console_log(self, instance, max_bytes=CONSOLE_TAIL_BYTES):
        """The last ``max_bytes`` of the guest's serial console ('' when there is none)."""
        try:
            with open(self.console_path(instance), 'rb') as log:
                log.seek(0, os.SEEK_END)
                log.seek(max(0, log.tell() - max_bytes))
                return log.read().decode('utf-8', errors='replace')
        except FileNotFoundError:
            return ''

    # Reconcile

    def _kvmfleet_domains(self):
        """([(name, uuid, spec, assignment, state)] with kvmfleet metadata, [unreadable names])."""
        found, unreadable, names = [], [], set()
        for name, _uuid, xml, state in self.conn.list_domains():
            names.add(name)
            parsed = self._metadata.read(name, xml)
            if isinstance(parsed, MetadataError):
                unreadable.append(name)
            elif parsed is not None:
                uuid, spec, assignment = parsed
                found.append((name, uuid, spec, assignment, state))
        self._metadata.retain(names)
        return found, unreadable

    def reconcile(self):
        """Re-adopt kvmfleet domains; remove interrupted builds and orphan directories.

        Call it when no build is in flight (agent start): a build's directory
        exists before its domain is defined.
        """
        found, unreadable = self._kvmfleet_domains()
        adopted, cleaned = [], []
        for name, uuid, spec, assignment, state in found:
            marker = os.path.join(self.instance_dir(uuid), BUILDING_MARKER)
            if os.path.exists(marker) and state != 'running':
                if self._remove(uuid, name) is None:
                    cleaned.append(uuid)
                continue
            if os.path.exists(marker):   # the agent stopped after start: the build finished
                os.unlink(marker)
            adopted.append(AdoptedInstance(uuid, spec, assignment, state))
        known = {uuid for _, uuid, _, _, _ in found}
        for uuid in self._orphan_dirs(known):
            shutil.rmtree(self.instance_dir(uuid), ignore_errors=True)
            cleaned.append(uuid)
        return ReconcileResult(tuple(adopted), tuple(cleaned), tuple(unreadable))

    def _orphan_dirs(self, known_uuids):
        """Instance directories (named by UUID) with no domain; other entries are left."""
        try:
            entries = os.listdir(self.config.instances_path)
        except FileNotFoundError:
            return []
        orphans = []
        for entry in sorted(entries):
            try:
                uuid = str(uuid_lib.UUID(entry))
            except ValueError:
                continue
            if uuid == entry and uuid not in known_uuids and \
                    self.conn.domain_state(domain_name(uuid)) is None:
                orphans.append(uuid)
        return orphans
