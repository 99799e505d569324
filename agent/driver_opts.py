"""Options of the instance driver (build, launch, lifecycle).

``[libvirt] virt_type`` and ``connection_uri`` are registered by
agent.discovery.opts (one definition per option); this module adds where
instances and images live, the guest CPU mode, sVirt labels and the launch
timeout, and turns them into a checked DriverConfig.
"""

import dataclasses

from oslo_config import cfg

import agent.discovery.opts  # noqa: F401  (registers [libvirt] virt_type)
from agent import network
from agent.domain.settings import CPU_MODES, SECLABEL_MODELS
from agent.exceptions import InvalidConfig
from agent.network import HostNetworks, networks_from_conf
from wire import opts as wire_opts
from wire import paths

default_opts = [
    cfg.StrOpt('instances_path', default=paths.state_path_def('instances'),
               help="Where each instance's directory (<uuid>/: disk overlay, console log) "
                    'is made. QEMU runs as an unprivileged user: every directory up to it '
                    'must be traversable by that user (so not under /root).'),
    cfg.StrOpt('images_path', default=paths.state_path_def('images'),
               help='Where base images and direct-boot kernels/initrds live; relative image '
                    'paths are resolved against it.'),
]

libvirt_opts = [
    cfg.StrOpt('cpu_mode', choices=CPU_MODES,
               help='Guest CPU mode. Unset: host-model with virt_type kvm, none (QEMU default '
                    'CPU model) with qemu.'),
    cfg.StrOpt('cpu_model', help="CPU model name with cpu_mode 'custom', e.g. Cascadelake."),
    cfg.StrOpt('seclabel_model', default='default', choices=SECLABEL_MODELS,
               help="sVirt label of guests: 'default' leaves libvirt's default, 'none' turns "
                    'confinement off, dac/selinux/apparmor ask for a dynamic label of that '
                    'model.'),
]

agent_opts = [
    cfg.FloatOpt('launch_timeout', default=30.0, min=1.0,
                 help='Seconds a started domain has to reach running before the build is '
                      'declared failed and everything it created is removed.'),
    cfg.FloatOpt('graceful_shutdown_timeout', default=60.0, min=0.0,
                 help="Seconds a stop waits for the guest to shut down after asking it (ACPI "
                      "power button) before powering it off, as Nova's shutdown_timeout; 0 "
                      'powers off at once. kvmfleet stop --force skips the wait.'),
    cfg.BoolOpt('vif_multiqueue_default', default=True,
                help='Virtio NICs of guests whose flavor and image do not set '
                     'hw:vif_multiqueue_enabled get one queue pair per vCPU (capped by the '
                     "tap limit); false keeps Nova's default of one queue. "
                     'hw:vif_multiqueue_enabled=false turns it off per flavor.'),
    cfg.StrOpt('migration_uri',
               help='The libvirt URI a source host\'s libvirtd reaches this host\'s libvirtd at '
                    'to migrate a guest here (peer-to-peer), e.g. qemu+tls://host-a/system. '
                    'Unset: the connection URI when it names a host or a socket, else '
                    'qemu+tcp://<this host name>/system.'),
    cfg.StrOpt('migration_data_uri',
               help='Where a guest migrated here sends its memory: tcp://ADDRESS[:PORT] (a '
                    'migration network) or unix:///PATH (both libvirtds on one machine). '
                    'Unset: libvirt\'s default (this host name, a port of its range).'),
    cfg.FloatOpt('migration_timeout', default=300.0, min=0.0,
                 help='Seconds a live migration may take before it is aborted (the guest '
                      'keeps running on the source); 0: no limit.'),
    cfg.IntOpt('migration_bandwidth', default=0, min=0,
               help='Most MiB/s a live migration from this host may use; 0: no limit.'),
]

GROUPS = (('DEFAULT', default_opts), ('libvirt', libvirt_opts), ('agent', agent_opts))


def register_opts(conf):
    paths.register_opts(conf)      # the defaults under $state_path
    wire_opts.register_groups(conf, GROUPS)
    network.register_opts(conf)      # [network]: where normal ports are plugged


def list_opts():
    """[(group, options)] for oslo-config-generator and agent/opts.py."""
    return wire_opts.listing(GROUPS)


register_opts(cfg.CONF)


@dataclasses.dataclass(frozen=True, slots=True)
class DriverConfig:
    """Checked driver options; the defaults are the options' defaults."""

    instances_path: str = '/var/lib/kvmfleet/instances'
    images_path: str = '/var/lib/kvmfleet/images'
    virt_type: str = 'kvm'           # resolved: kvm or qemu, never auto
    cpu_mode: str | None = None
    cpu_model: str | None = None
    seclabel_model: str = 'default'
    launch_timeout: float = 30.0
    multiqueue_default: bool = True
    graceful_shutdown_timeout: float = 60.0
    networks: HostNetworks = HostNetworks()
    migration_uri: str | None = None
    migration_data_uri: str | None = None
    migration_timeout: float = 300.0
    migration_bandwidth: int = 0


def config_from_conf(conf=cfg.CONF, detected_virt_type=None):
    """DriverConfig from the options; ``detected_virt_type`` replaces virt_type 'auto'."""
    virt_type = conf.libvirt.virt_type
    if virt_type == 'auto':
        if detected_virt_type not in ('kvm', 'qemu'):
            raise InvalidConfig('[libvirt] virt_type', "'auto' needs a detected virt type")
        virt_type = detected_virt_type
    if conf.libvirt.cpu_mode == 'custom' and not conf.libvirt.cpu_model:
        raise InvalidConfig('[libvirt] cpu_model', "required with cpu_mode 'custom'")
    return DriverConfig(
        instances_path=conf.instances_path, images_path=conf.images_path,
        virt_type=virt_type, cpu_mode=conf.libvirt.cpu_mode, cpu_model=conf.libvirt.cpu_model,
        seclabel_model=conf.libvirt.seclabel_model, launch_timeout=conf.agent.launch_timeout,
        multiqueue_default=conf.agent.vif_multiqueue_default,
        graceful_shutdown_timeout=conf.agent.graceful_shutdown_timeout,
        networks=networks_from_conf(conf), migration_uri=conf.agent.migration_uri,
        migration_data_uri=conf.agent.migration_data_uri,
        migration_timeout=conf.agent.migration_timeout,
        migration_bandwidth=conf.agent.migration_bandwidth)
