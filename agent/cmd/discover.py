"""``kvmfleet-agent discover``: show what the agent will report about this host."""

import json
import sys

from oslo_config import cfg

from agent.discovery import opts as discovery_opts
from agent.discovery.host import discover
from agent.exceptions import AgentError
from agent.libvirt_conn import LibvirtConnection
from wire.cpuset import format_cpuset
from wire.files import SUPPORTED_VERSION

FORMATS = ('json', 'table')


def add_arguments(parser):
    """Add the discover subcommand's own arguments to an argparse parser."""
    parser.add_argument('--format', choices=FORMATS, default='json',
                        help='fleet-file JSON (default) or a readable per-cell table')


def run(args, conf=cfg.CONF, connection_factory=LibvirtConnection, out=None, err=None):
    """Discover the host and print it; returns the exit status."""
    out, err = out or sys.stdout, err or sys.stderr
    conn = None
    try:
        settings = discovery_opts.settings_from_conf(conf)
        conn = connection_factory(conf.libvirt.connection_uri)
        found = discover(conn, settings)
    except AgentError as exc:
        print(f"kvmfleet-agent discover: {exc}", file=err)
        return 1
    finally:
        if conn is not None and hasattr(conn, 'close'):
            conn.close()
    out.write(render_json(found) if args.format == 'json' else render_table(found))
    return 0


def render_json(found):
    """The host as a one-host fleet file."""
    document = {'version': SUPPORTED_VERSION, 'hosts': [found.topology.to_dict()]}
    return json.dumps(document, indent=2) + '\n'


def render_table(found):
    """A per-cell table, then devices and host-wide facts."""
    host = found.topology
    lines = [f"host {host.name}  virt_type {found.virt_type}  sev_slots {host.sev_slots}  "
             f"secure_boot {'yes' if host.secure_boot else 'no'}  "
             f"sev_es_slots {host.sev_es_slots}  "
             f"sev_snp {'yes' if host.sev_snp_supported else 'no'}", '',
             f"{'cell':>4}  {'dedicated':<16} {'shared':<16} {'memory MiB':>10} "
             f"{'reserved':>8} {'small MiB':>9} {'socket':>6}  pools (size KiB: total/free)"]
    for cell in host.cells:
        free = found.free_pages.get(cell.id, {})
        pools = ', '.join(f"{size}: {count}/{free.get(size, '?')}"
                          for size, count in sorted(cell.pages.items())) or '-'
        lines.append(f"{cell.id:>4}  {format_cpuset(cell.cpus) or '-':<16} "
                     f"{format_cpuset(cell.shared_cpus) or '-':<16} {cell.memory_mb:>10} "
                     f"{cell.reserved_memory_mb:>8} {cell.small_page_mb:>9} "
                     f"{'-' if cell.socket is None else cell.socket:>6}  {pools}")
    lines += ['', 'pci devices:' if host.pci_devices else 'pci devices: none whitelisted']
    for device in host.pci_devices:
        lines.append(f"  {device.address}  {device.vendor_id}:{device.product_id}  "
                     f"{device.type:<8}  numa {device.numa_node}  "
                     f"iommu {device.iommu_group}  parent {device.parent or '-'}  "
                     f"physnet {device.physical_network or '-'}")
    lines += [f"  skipped (unreadable): {error}" for error in found.unreadable_devices]
    lines += ['', f"traits: {', '.join(sorted(host.traits)) or '-'}"]
    return '\n'.join(lines) + '\n'
