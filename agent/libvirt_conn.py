"""The agent's one libvirt seam.

This is the only module of the agent that imports ``libvirt``.  Every method
returns plain Python values or XML strings, and every libvirt failure is
re-raised as ``agent.exceptions.LibvirtError`` naming the operation, so the
rest of the agent (and its tests, through a fake with the same methods) is
plain Python over XML.

Events: ``start_event_loop()`` runs libvirt's default event loop in a daemon
thread (it must run before a connection that wants events is opened).  A
connection given ``watch(on_lifecycle, on_close)`` registers a domain
lifecycle callback and a close callback each time it is opened, and hands
them plain values: ``on_lifecycle(name, uuid, event, detail)`` with the
LIFECYCLE_EVENTS / event detail names, ``on_close(reason)``.  Once libvirt
says the connection closed, every call fails with LibvirtError until
``reopen()`` succeeds: nothing behind the seam ever sees an empty answer from
a dead connection.
"""

import contextlib
import logging
import re
import threading

import libvirt

from agent.exceptions import LibvirtError

LOG = logging.getLogger(__name__)

# libvirt's default handler prints every error to stderr; we report them ourselves.
libvirt.registerErrorHandler(lambda _ctx, _err: None, None)

DOMAIN_STATES = {
    libvirt.VIR_DOMAIN_NOSTATE: 'nostate',
    libvirt.VIR_DOMAIN_RUNNING: 'running',
    libvirt.VIR_DOMAIN_BLOCKED: 'blocked',
    libvirt.VIR_DOMAIN_PAUSED: 'paused',
    libvirt.VIR_DOMAIN_SHUTDOWN: 'shutdown',
    libvirt.VIR_DOMAIN_SHUTOFF: 'shutoff',
    libvirt.VIR_DOMAIN_CRASHED: 'crashed',
    libvirt.VIR_DOMAIN_PMSUSPENDED: 'pmsuspended',
}

LIFECYCLE_EVENTS = {
    libvirt.VIR_DOMAIN_EVENT_DEFINED: 'defined',
    libvirt.VIR_DOMAIN_EVENT_UNDEFINED: 'undefined',
    libvirt.VIR_DOMAIN_EVENT_STARTED: 'started',
    libvirt.VIR_DOMAIN_EVENT_SUSPENDED: 'suspended',
    libvirt.VIR_DOMAIN_EVENT_RESUMED: 'resumed',
    libvirt.VIR_DOMAIN_EVENT_STOPPED: 'stopped',
    libvirt.VIR_DOMAIN_EVENT_SHUTDOWN: 'shutdown',
    libvirt.VIR_DOMAIN_EVENT_PMSUSPENDED: 'pmsuspended',
    libvirt.VIR_DOMAIN_EVENT_CRASHED: 'crashed',
}

# Details worth a name (what the agent logs and tells the scheduler); others are numbers.
# Why a shut-off domain is off (virDomainGetState's reason), named as the stop events'.
SHUTOFF_REASONS = {
    libvirt.VIR_DOMAIN_SHUTOFF_SHUTDOWN: 'shutdown',
    libvirt.VIR_DOMAIN_SHUTOFF_DESTROYED: 'destroyed',
    libvirt.VIR_DOMAIN_SHUTOFF_CRASHED: 'crashed',
    libvirt.VIR_DOMAIN_SHUTOFF_FAILED: 'failed',
}

EVENT_DETAILS = {
    libvirt.VIR_DOMAIN_EVENT_STOPPED: {
        libvirt.VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN: 'shutdown',
        libvirt.VIR_DOMAIN_EVENT_STOPPED_DESTROYED: 'destroyed',
        libvirt.VIR_DOMAIN_EVENT_STOPPED_CRASHED: 'crashed',
        libvirt.VIR_DOMAIN_EVENT_STOPPED_MIGRATED: 'migrated',
        libvirt.VIR_DOMAIN_EVENT_STOPPED_SAVED: 'saved',
        libvirt.VIR_DOMAIN_EVENT_STOPPED_FAILED: 'failed',
        libvirt.VIR_DOMAIN_EVENT_STOPPED_FROM_SNAPSHOT: 'from snapshot'},
    libvirt.VIR_DOMAIN_EVENT_SHUTDOWN: {
        libvirt.VIR_DOMAIN_EVENT_SHUTDOWN_FINISHED: 'finished',
        libvirt.VIR_DOMAIN_EVENT_SHUTDOWN_GUEST: 'by the guest',
        libvirt.VIR_DOMAIN_EVENT_SHUTDOWN_HOST: 'by the host (signal, virsh destroy)'},
    libvirt.VIR_DOMAIN_EVENT_CRASHED: {
        libvirt.VIR_DOMAIN_EVENT_CRASHED_PANICKED: 'panicked',
        libvirt.VIR_DOMAIN_EVENT_CRASHED_CRASHLOADED: 'crash kernel loaded'},
    libvirt.VIR_DOMAIN_EVENT_STARTED: {
        libvirt.VIR_DOMAIN_EVENT_STARTED_BOOTED: 'booted',
        libvirt.VIR_DOMAIN_EVENT_STARTED_RESTORED: 'restored'},
}

CLOSE_REASONS = {
    libvirt.VIR_CONNECT_CLOSE_REASON_ERROR: 'error',
    libvirt.VIR_CONNECT_CLOSE_REASON_EOF: 'end of file (libvirtd stopped?)',
    libvirt.VIR_CONNECT_CLOSE_REASON_KEEPALIVE: 'keepalive timeout',
    libvirt.VIR_CONNECT_CLOSE_REASON_CLIENT: 'closed by the client',
}

# Keepalive probes: every KEEPALIVE_INTERVAL_S, dead after KEEPALIVE_COUNT unanswered.
KEEPALIVE_INTERVAL_S = 5
KEEPALIVE_COUNT = 3

_event_loop_lock = threading.Lock()
_event_loop_thread = None


def start_event_loop():
    """Register libvirt's default event loop and run it in a daemon thread (once)."""
    global _event_loop_thread
    with _event_loop_lock:
        if _event_loop_thread is not None:
            return
        libvirt.virEventRegisterDefaultImpl()
        _event_loop_thread = threading.Thread(target=_run_event_loop,
                                              name='libvirt-event-loop', daemon=True)
        _event_loop_thread.start()


def _run_event_loop():
    while True:
        try:
            libvirt.virEventRunDefaultImpl()
        except Exception:   # one bad callback must not stop every later event
            LOG.exception('libvirt event loop iteration failed')


# Each is called with the call's name ('defineXML', 'start', ...) when a libvirt call
# fails (agent/metrics.py counts them).
ERROR_OBSERVERS = []


def call_name(operation):
    """The libvirt call an operation text names: its first word ('start' of 'start vm-1')."""
    match = re.match(r'[A-Za-z]+', operation)
    return match.group(0) if match else 'other'


def _failed(operation, exc):
    """The LibvirtError of a failed libvirt call; the error observers hear of it."""
    for observer in list(ERROR_OBSERVERS):
        observer(call_name(operation))
    return LibvirtError(operation, exc.get_error_message() or str(exc), exc.get_error_code())


@contextlib.contextmanager
def _wrapped(operation):
    """Turn a libvirtError raised inside the block into LibvirtError(operation)."""
    try:
        yield
    except libvirt.libvirtError as exc:
        raise _failed(operation, exc) from exc


class LibvirtConnection:
    """A lazily opened read-write connection to one libvirt URI."""

    def __init__(self, uri):
        self.uri = uri
        self._conn = None
        self._lock = threading.RLock()
        self._closed_reason = None     # set when libvirt said the connection closed
        self._on_lifecycle = None
        self._on_close = None
        self._callback_ids = ()

    @property
    def conn(self):
        """The underlying virConnect, opened on first use.

        Raises LibvirtError while the connection is known to be closed: only
        ``reopen()`` opens it again, so a dead libvirtd is never mistaken for
        a host without domains.
        """
        with self._lock:
            if self._closed_reason is not None:
                raise LibvirtError(f"connection to {self.uri}",
                                   f"closed ({self._closed_reason}), reconnecting",
                                   libvirt.VIR_ERR_NO_CONNECT)
            if self._conn is None:
                self._open()
            return self._conn

    @property
    def connected(self):
        """False once libvirt said the connection closed, until ``reopen()`` succeeds."""
        return self._closed_reason is None

    def watch(self, on_lifecycle=None, on_close=None):
        """Callbacks for domain lifecycle events and for the connection closing.

        They are registered now if the connection is open and again by every
        ``reopen()``; start_event_loop() must have run first.
        """
        with self._lock:
            self._on_lifecycle = on_lifecycle
            self._on_close = on_close
            if self._conn is not None:
                self._register(self._conn)

    def _open(self):
        with _wrapped(f"open {self.uri}"):
            conn = libvirt.open(self.uri)
        if self._on_lifecycle or self._on_close:
            try:
                self._register(conn)
            except LibvirtError:
                with contextlib.suppress(libvirt.libvirtError):
                    conn.close()
                raise
        self._conn = conn

    def _register(self, conn):
        ids = []
        if _event_loop_thread is not None:
            try:      # a dead daemon on a remote link is noticed; local drivers have none
                conn.setKeepAlive(KEEPALIVE_INTERVAL_S, KEEPALIVE_COUNT)
            except libvirt.libvirtError as exc:
                if exc.get_error_code() != libvirt.VIR_ERR_NO_SUPPORT:
                    raise _failed('setKeepAlive', exc) from exc
        with _wrapped(f"register callbacks on {self.uri}"):
            if self._on_close is not None:
                conn.registerCloseCallback(self._closed, None)
            if self._on_lifecycle is not None:
                ids.append(conn.domainEventRegisterAny(
                    None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, self._lifecycle, None))
        self._callback_ids = tuple(ids)

    def _lifecycle(self, _conn, domain, event, detail, _opaque):
        name, uuid = domain.name(), domain.UUIDString()
        event_name = LIFECYCLE_EVENTS.get(event, f"event {event}")
        detail_name = EVENT_DETAILS.get(event, {}).get(detail, str(detail))
        self._on_lifecycle(name, uuid, event_name, detail_name)

    def _closed(self, conn, reason, _opaque):
        # No lock: this runs on the event loop thread, which reopen() may be waiting on.
        if conn is not self._conn:
            return    # an old connection, already replaced
        self._closed_reason = CLOSE_REASONS.get(reason, f"reason {reason}")
        if self._on_close is not None:
            self._on_close(self._closed_reason)

    def reopen(self):
        """Drop the current connection and open a new one (callbacks registered again).

        Raises LibvirtError when libvirt cannot be reached; the connection then
        stays closed and the next ``reopen()`` tries again.
        """
        with self._lock:
            old, self._conn = self._conn, None
            self._closed_reason = self._closed_reason or 'reopening'
            self._drop(old)
            self._open()
            self._closed_reason = None

    def is_alive(self):
        """Whether the open connection still answers (False when closed or never opened)."""
        with self._lock:
            if self._conn is None or self._closed_reason is not None:
                return False
            try:
                return bool(self._conn.isAlive())
            except libvirt.libvirtError:
                return False

    def _drop(self, conn):
        if conn is None:
            return
        with contextlib.suppress(libvirt.libvirtError):   # a dead connection refuses these
            for callback_id in self._callback_ids:
                conn.domainEventDeregisterAny(callback_id)
            if self._on_close is not None:
                conn.unregisterCloseCallback()
        self._callback_ids = ()
        with contextlib.suppress(libvirt.libvirtError):
            conn.close()

    def close(self):
        """Close the connection if it was opened."""
        with self._lock:
            old, self._conn = self._conn, None
            self._drop(old)

    # Host

    def capabilities(self):
        """Host capabilities XML (virConnectGetCapabilities)."""
        with _wrapped('getCapabilities'):
            return self.conn.getCapabilities()

    def domain_capabilities(self, virt_type, arch, machine=None, emulator=None):
        """Domain capabilities XML for one virt type/arch/machine."""
        with _wrapped(f"getDomainCapabilities({virt_type}, {arch}, {machine})"):
            return self.conn.getDomainCapabilities(emulator, arch, machine, virt_type, 0)

    def pci_device_xmls(self):
        """The XML of every node device with the 'pci' capability."""
        with _wrapped('listAllDevices(pci)'):
            devices = self.conn.listAllDevices(libvirt.VIR_CONNECT_LIST_NODE_DEVICES_CAP_PCI_DEV)
            return [device.XMLDesc(0) for device in devices]

    def free_pages(self, cells, sizes_kb):
        """Free pages now: ``{cell: {size_kb: free}}`` for the given cells and sizes.

        Cells are asked one at a time because their ids may be sparse.
        """
        sizes = sorted(sizes_kb)
        result = {}
        if not sizes:
            return {cell: {} for cell in cells}
        for cell in cells:
            with _wrapped(f"getFreePages(cell {cell})"):
                answer = self.conn.getFreePages(sizes, cell, 1, 0)
            result[cell] = {int(size): int(count)
                            for size, count in answer.get(cell, {}).items()}
        return result

    def hostname(self):
        """The host name libvirt reports."""
        with _wrapped('getHostname'):
            return self.conn.getHostname()

    def node_memory_kb(self):
        """The host's total memory in KiB (virNodeGetInfo)."""
        with _wrapped('getInfo'):
            return int(self.conn.getInfo()[1]) * 1024

    def expanded_cpu_xml(self, cpu_xml):
        """The host ``<cpu>`` with every feature its model implies listed (baselineCPU)."""
        with _wrapped('baselineCPU(expand features)'):
            return self.conn.baselineCPU([cpu_xml],
                                         libvirt.VIR_CONNECT_BASELINE_CPU_EXPAND_FEATURES)

    # Domains

    def list_domains(self):
        """Every domain, running or defined: ``[(name, uuid, xml, state)]``.

        ``state`` is a DOMAIN_STATES name such as 'running' or 'shutoff'.
        """
        result = []
        with _wrapped('listAllDomains'):
            domains = self.conn.listAllDomains(0)
        for domain in domains:
            try:
                state = DOMAIN_STATES.get(domain.state()[0], 'nostate')
                result.append((domain.name(), domain.UUIDString(),
                               domain.XMLDesc(0), state))
            except libvirt.libvirtError as exc:
                if exc.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
                    raise _failed('describe domain', exc) from exc
                # undefined between listing and reading: it is simply gone
        return result

    def domain_xml(self, name):
        """The live (or persistent, when stopped) XML of domain ``name``."""
        with _wrapped(f"XMLDesc({name})"):
            return self.conn.lookupByName(name).XMLDesc(0)

    # Domain lifecycle (used by agent.driver)

    def _domain(self, name):
        with _wrapped(f"lookupByName({name})"):
            return self.conn.lookupByName(name)

    def define_domain(self, xml):
        """Define a persistent domain from XML; returns its UUID string.

        libvirt checks the XML against its domain schema first
        (VIR_DOMAIN_DEFINE_VALIDATE): an element or value the schema does
        not allow is refused with the schema's message, nothing is defined.
        """
        with _wrapped('defineXML(validate)'):
            return self.conn.defineXMLFlags(xml, libvirt.VIR_DOMAIN_DEFINE_VALIDATE).UUIDString()

    def start_domain(self, name):
        """Start (virDomainCreate) a defined domain."""
        domain = self._domain(name)
        with _wrapped(f"start {name}"):
            domain.create()

    def domain_state(self, name):
        """The domain's DOMAIN_STATES name, or None when no such domain exists."""
        try:
            domain = self.conn.lookupByName(name)
            return DOMAIN_STATES.get(domain.state()[0], 'nostate')
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                return None
            raise _failed(f"state of {name}", exc) from exc

    def shutoff_reason(self, name):
        """Why a shut-off domain is off ('crashed', 'destroyed', ...), None otherwise."""
        try:
            state, reason = self.conn.lookupByName(name).state()
        except libvirt.libvirtError as exc:
            if exc.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                return None
            raise _failed(f"state of {name}", exc) from exc
        return SHUTOFF_REASONS.get(reason) if state == libvirt.VIR_DOMAIN_SHUTOFF else None

    def shutdown_domain(self, name):
        """Ask the guest to shut down (ACPI); returns at once."""
        domain = self._domain(name)
        with _wrapped(f"shutdown {name}"):
            domain.shutdown()

    def destroy_domain(self, name):
        """Power the domain off now; a domain that is not running is left as it is."""
        domain = self._domain(name)
        with _wrapped(f"destroy {name}"):
            if domain.isActive():
                try:
                    domain.destroy()
                except libvirt.libvirtError:
                    if domain.isActive():   # else it powered itself off meanwhile: done
                        raise

    def reboot_domain(self, name):
        """Reboot the guest (ACPI, falling back to what the hypervisor offers)."""
        domain = self._domain(name)
        with _wrapped(f"reboot {name}"):
            domain.reboot(0)

    def undefine_domain(self, name):
        """Remove the persistent definition, UEFI variables and managed save included."""
        domain = self._domain(name)
        flags = (libvirt.VIR_DOMAIN_UNDEFINE_NVRAM | libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE)
        try:
            domain.undefineFlags(flags)
        except libvirt.libvirtError:
            with _wrapped(f"undefine {name}"):   # drivers without NVRAM support reject flags
                domain.undefine()

    def vcpu_pin_info(self, name):
        """``{vcpu: frozenset(pcpus)}`` the running domain's vCPUs may run on."""
        domain = self._domain(name)
        with _wrapped(f"vcpuPinInfo({name})"):
            rows = domain.vcpuPinInfo(0)
        return {vcpu: frozenset(cpu for cpu, allowed in enumerate(row) if allowed)
                for vcpu, row in enumerate(rows)}

    def emulator_pin_info(self, name):
        """The pCPUs the running domain's emulator threads may run on (a frozenset)."""
        domain = self._domain(name)
        with _wrapped(f"emulatorPinInfo({name})"):
            row = domain.emulatorPinInfo(0)
        return frozenset(cpu for cpu, allowed in enumerate(row) if allowed)

    # Devices and migration (used by agent.driver_migration)

    def attach_device(self, name, device_xml):
        """Add a device to the domain's definition, and hot-plug it when the domain runs."""
        domain = self._domain(name)
        with _wrapped(f"attach device to {name}"):
            domain.attachDeviceFlags(device_xml, _affected(domain))

    def detach_device(self, name, device_xml):
        """Remove a device from the domain's definition, and hot-unplug it when it runs."""
        domain = self._domain(name)
        with _wrapped(f"detach device from {name}"):
            domain.detachDeviceFlags(device_xml, _affected(domain))

    def default_migration_uri(self):
        """The URI a peer's libvirtd reaches this one at (when [agent] migration_uri is unset).

        A URI that already names a host or a socket is reachable as it is; a
        local one (qemu:///system) becomes qemu+tcp://<this host name>/system.
        """
        if '//' in self.uri and not self.uri.split('//', 1)[1].startswith('/'):
            return self.uri
        if 'socket=' in self.uri:
            return self.uri
        return f"qemu+tcp://{self.hostname()}/system"

    def migrate(self, name, dest_uri, dest_xml, live=True, data_uri=None,
                copy_storage=False, timeout=None, bandwidth_mib=None, keep_source=False):
        """Move domain ``name`` to the libvirtd at ``dest_uri`` with ``dest_xml``.

        Peer-to-peer (this libvirtd talks to the destination's), the definition
        made persistent there and removed here on success.  live: the guest runs
        on during the copy (VIR_MIGRATE_LIVE); not live: an offline move of the
        definition of a shut-off domain.  ``data_uri`` is where the guest's
        memory travels (tcp://host:port or unix:///path; None: libvirt's choice),
        ``copy_storage`` copies local disk overlays (VIR_MIGRATE_NON_SHARED_INC;
        beside a unix:///path data URI, over unix:///path.disks),
        ``timeout`` seconds after which the job is aborted (the guest stays here),
        ``bandwidth_mib`` the most MiB/s the copy may use (None: no limit),
        ``keep_source`` (offline only, a resize) leaves the definition here too.
        On any failure libvirt leaves the domain here, running if it was.
        """
        domain = self._domain(name)
        flags = libvirt.VIR_MIGRATE_PEER2PEER | libvirt.VIR_MIGRATE_PERSIST_DEST
        if not (keep_source and not live):
            flags |= libvirt.VIR_MIGRATE_UNDEFINE_SOURCE
        if live:
            flags |= libvirt.VIR_MIGRATE_LIVE | libvirt.VIR_MIGRATE_ABORT_ON_ERROR
            if copy_storage:
                flags |= libvirt.VIR_MIGRATE_NON_SHARED_INC
        else:
            flags |= libvirt.VIR_MIGRATE_OFFLINE
        params = {libvirt.VIR_MIGRATE_PARAM_DEST_XML: dest_xml,
                  libvirt.VIR_MIGRATE_PARAM_PERSIST_XML: dest_xml}
        if bandwidth_mib and live:
            params[libvirt.VIR_MIGRATE_PARAM_BANDWIDTH] = int(bandwidth_mib)
        if data_uri and live:
            params[libvirt.VIR_MIGRATE_PARAM_URI] = data_uri
            if copy_storage and data_uri.startswith('unix://'):
                # libvirt copies disks over NBD; over UNIX sockets it needs a socket for it
                params[libvirt.VIR_MIGRATE_PARAM_DISKS_URI] = f"{data_uri}.disks"
        timer = None
        if timeout and live:
            timer = threading.Timer(timeout, _abort_job, (domain, name))
            timer.daemon = True
            timer.start()
        try:
            with _wrapped(f"migrate {name} to {dest_uri}"):
                domain.migrateToURI3(dest_uri, params, flags)
        finally:
            if timer is not None:
                timer.cancel()


def _affected(domain):
    """Device change flags: the definition, and the running guest when there is one."""
    if domain.isActive():
        return libvirt.VIR_DOMAIN_AFFECT_LIVE | libvirt.VIR_DOMAIN_AFFECT_CONFIG
    return libvirt.VIR_DOMAIN_AFFECT_CONFIG


def _abort_job(domain, name):
    """Abort a migration that ran past its timeout; libvirt resumes the guest here."""
    LOG.warning('migration of %s ran past its timeout: aborting it', name)
    with contextlib.suppress(libvirt.libvirtError):
        domain.abortJob()
