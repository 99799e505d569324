"""Upper bounds on what one message or file may ask for, and the options that set them.

Every parser of untrusted input (fleet files, agent reports, requests, flavors,
assignments) takes a ``Limits`` value, so one small message can never make a
service expand a huge CPU range, loop over millions of instances or store a
string PostgreSQL refuses.  The defaults are well above any real host or guest;
the services build the value from the ``[limits]`` options at start
(``from_conf``), everything else uses ``DEFAULT``.  docs/configuration.md
lists each limit and why its default is what it is.
"""

import dataclasses

from oslo_config import cfg

from wire.cpuset import DEFAULT_MAX_CPU

GROUP = 'limits'


@dataclasses.dataclass(frozen=True, slots=True)
class Limits:
    """Bounds applied by every parser; see the matching ``[limits]`` options."""

    max_vcpus: int = 4096              # vCPUs of one instance (Nova's libvirt cap is 4096)
    max_memory_mb: int = 16 * 1024 * 1024   # memory of one instance: 16 TiB
    max_count: int = 1000              # instances in one boot (count / min_count)
    max_cpu_id: int = DEFAULT_MAX_CPU   # largest host pCPU id, also inside ranges
    max_cells: int = 64                # NUMA cells of one host
    max_pci_devices: int = 4096        # PCI devices of one host
    max_instances: int = 4096          # running instances in one host report
    max_extra_specs: int = 256         # extra_specs (and image_properties) entries
    max_ports: int = 64                # ports of one request
    max_string_length: int = 255       # any free-text value (PostgreSQL String(255))
    max_traits: int = 1024             # traits of one host
    max_aggregates: int = 256          # aggregates of one host (and keys per aggregate)

    @property
    def max_vcpu_id(self):
        """The largest guest vCPU id a mask or a NUMA cell may name."""
        return self.max_vcpus - 1


DEFAULT = Limits()


# (option = Limits field, help); each option's default is the field's default.
_HELP = (
    ('max_vcpus', 'Largest number of vCPUs one instance may ask for; larger requests are '
                  'refused before any pinning is computed.'),
    ('max_memory_mb', 'Largest memory, in MiB, one instance may ask for.'),
    ('max_count', 'Largest number of instances one boot may create (count and min_count).'),
    ('max_cpu_id', 'Largest host CPU id accepted in a fleet file or agent report; a range '
                   'such as 0-300000000 is refused before it is expanded.'),
    ('max_cells', 'Largest number of NUMA cells one host (and one assignment) may have.'),
    ('max_pci_devices', 'Largest number of PCI devices one host may report.'),
    ('max_instances', 'Largest number of running instances one host report or fleet-file '
                      'host may list.'),
    ('max_extra_specs', 'Largest number of extra_specs entries of a request or flavor (also '
                        'the limit for image_properties).'),
    ('max_ports', 'Largest number of ports one request may ask for.'),
    ('max_string_length', 'Longest free-text value accepted anywhere (names, extra spec keys '
                          'and values); 255 matches the database columns.'),
    ('max_traits', 'Largest number of traits one host may report.'),
    ('max_aggregates', 'Largest number of aggregates one host may be in, and of metadata '
                       'keys per aggregate.'),
)
limits_opts = [cfg.IntOpt(name, default=getattr(DEFAULT, name),
                          min=0 if name == 'max_cpu_id' else 1, help=help_text)
               for name, help_text in _HELP]
cfg.CONF.register_opts(limits_opts, group=GROUP)


def list_opts():
    return [(GROUP, limits_opts)]


def from_conf(conf=cfg.CONF):
    """The Limits value the ``[limits]`` options of ``conf`` describe."""
    group = conf[GROUP]
    return Limits(**{f.name: group[f.name] for f in dataclasses.fields(Limits)})


# Fixed bounds that need no option: Linux numbers NUMA nodes below 1024
# (NODES_SHIFT is at most 10), and no machine has more than a handful of page sizes.
MAX_NODE_ID = 1023
MAX_PAGE_SIZES = 16
# A CPU socket (physical package) id: small on every machine libvirt reports; the bound
# only keeps an untrusted report from carrying absurd numbers.
MAX_SOCKET_ID = 65535
