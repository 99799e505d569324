"""``[DEFAULT] state_path``: the top directory of everything a service keeps on disk.

Paths that live under it default to ``$state_path/<name>`` (oslo.config
substitutes the value when the option is read), so setting ``state_path``
alone moves them all, as in Nova; each can still be set on its own.
"""

import os

from oslo_config import cfg

DEFAULT_STATE_PATH = '/var/lib/kvmfleet'

path_opts = [
    cfg.StrOpt('state_path', default=DEFAULT_STATE_PATH,
               help='Top-level directory for the state of kvmfleet services: the '
                    "scheduler's default SQLite store, the agent's instances, images "
                    'and simulated hosts. Each path under it has its own option too.'),
]


def register_opts(conf):
    """``state_path`` on ``conf`` (every ConfigOpts whose defaults name ``$state_path``)."""
    conf.register_opts(path_opts)


register_opts(cfg.CONF)


def list_opts():
    return [('DEFAULT', path_opts)]


def state_path_def(*parts):
    """An option default under the state path, e.g. ``$state_path/instances``."""
    return os.path.join('$state_path', *parts)


def state_path_of(conf):
    """``[DEFAULT] state_path`` of ``conf``, the default when ``conf`` lacks the option."""
    if 'state_path' not in conf:
        return DEFAULT_STATE_PATH
    return conf.state_path or DEFAULT_STATE_PATH
