"""RPC version caps for a rolling upgrade: the ``[upgrade_levels]`` options.

While some servers of an API still run the previous release, the clients of this
release are capped at the version those servers implement.  oslo.messaging then
refuses to send any message newer than the cap (``RPCVersionCapError``), and a
client method with an older form of its message asks ``can_send_version`` first
and sends that form instead.  An unset (or empty) option means no cap: the newest
version this release speaks.

The option names follow Nova's; unlike Nova, a level is a version only (kvmfleet
has no release names to accept in its place).
"""

import logging
import re

from oslo_config import cfg

from wire import rpc

LOG = logging.getLogger(__name__)
CONF = cfg.CONF

GROUP = 'upgrade_levels'

upgrade_group = cfg.OptGroup(
    GROUP, title='RPC version caps',
    help='Caps on the RPC API versions this process sends, for a rolling upgrade during '
         'which some services still run the previous release.')

upgrade_opts = [
    cfg.StrOpt('scheduler',
               help='The newest scheduler RPC API version this process may send, as N.M '
                    '(for example 1.0). Set it on the agents while any scheduler still runs '
                    'the previous release, and remove it once every scheduler is upgraded. '
                    'Unset means no cap: the newest version this release speaks.'),
    cfg.StrOpt('agent',
               help='The newest agent RPC API version this process may send, as N.M '
                    '(for example 1.0). Set it on the schedulers while any agent still runs '
                    'the previous release, and remove it once every agent is upgraded. '
                    'Unset means no cap: the newest version this release speaks.'),
]
CONF.register_group(upgrade_group)
CONF.register_opts(upgrade_opts, group=upgrade_group)

_VERSION = re.compile(r'(\d+)\.(\d+)')


def list_opts():
    return [(upgrade_group, upgrade_opts)]


class InvalidUpgradeLevel(cfg.Error, ValueError):
    """An ``[upgrade_levels]`` value that is no version this release can send."""

    def __init__(self, api, value, rule):
        self.field = f"[{GROUP}] {api}"
        self.rule = rule
        super().__init__(f"{self.field} = {value!r}: {rule}")


def version_cap(api, newest):
    """The cap ``[upgrade_levels] <api>`` sets on a client that speaks up to ``newest``.

    None when the option is unset or empty.  A value must be N.M, with the major
    version of ``newest`` and a minor version no greater than its minor version;
    anything else raises InvalidUpgradeLevel naming the option and the rule.
    """
    value = CONF[GROUP][api]
    if value is None or value == '':
        return None
    match = _VERSION.fullmatch(value)
    if match is None:
        raise InvalidUpgradeLevel(api, value, 'must be a version of the form N.M, such as '
                                              f"{newest.split('.')[0]}.0")
    major, minor = (int(part) for part in newest.split('.'))
    wanted_major, wanted_minor = int(match.group(1)), int(match.group(2))
    if (wanted_major, wanted_minor) > (major, minor):
        raise InvalidUpgradeLevel(api, value, f"must not be newer than {newest}, the newest "
                                              f"{api} API version this release speaks")
    if wanted_major != major:
        raise InvalidUpgradeLevel(api, value, f"must be a {major}.x version: this release "
                                              f"speaks {api} API {major}.0 to {newest}")
    return f"{wanted_major}.{wanted_minor}"


def get_rpc_client(api, topic, newest, timeout=None, url=None):
    """An RPC client of ``topic`` (speaking up to ``newest``) capped by ``[upgrade_levels] <api>``.

    The option is checked before anything else: a bad value fails here, with
    nothing created.
    """
    cap = version_cap(api, newest)
    if cap is not None:
        LOG.info('%s RPC API capped at version %s by [%s] %s', api, cap, GROUP, api)
    return rpc.get_rpc_client(topic, newest, timeout=timeout, url=url, version_cap=cap)


def capped(what, version):
    """The error for ``what``, which needs RPC ``version``, from a client capped below it."""
    return rpc.BusError(rpc.OPERATION_FAILED,
                        f"{what} needs RPC API {version}; [upgrade_levels] caps this client "
                        'below it while a service of the previous release runs')
