"""``kvmfleet-agent keygen`` and ``kvmfleet-agent trust-scheduler``: the agent's keys.

``keygen`` makes the host key ([signing] agent_private_key); its public half is
enrolled on the scheduler (``kvmfleet enrol-host HOST FILE``).  ``trust-scheduler``
adds a scheduler's public key to [signing] trusted_schedulers_dir.
"""

from oslo_config import cfg

from wire import key_commands


def add_keygen_arguments(parser):
    parser.add_argument('--private-key', metavar='PATH',
                        help='where to write the key (default: [signing] agent_private_key); '
                             'the public key goes beside it as .pub')
    parser.add_argument('--force', action='store_true', help='replace an existing key')


def add_trust_arguments(parser):
    parser.add_argument('public_key', metavar='PUBLIC_KEY',
                        help="a scheduler's public key file (from `kvmfleet keygen`)")
    parser.add_argument('--name', default='scheduler',
                        help='name of that scheduler: its key file name without .pub '
                             '(default: scheduler)')
    parser.add_argument('--keys-dir', metavar='DIR',
                        help='default: [signing] trusted_schedulers_dir')
    parser.add_argument('--replace', action='store_true',
                        help='replace a different key already trusted under that name')


def run_keygen(args, conf=cfg.CONF):
    return key_commands.keygen('kvmfleet-agent keygen',
                               args.private_key or conf.signing.agent_private_key,
                               force=args.force)


def run_trust(args, conf=cfg.CONF):
    return key_commands.enrol('kvmfleet-agent trust-scheduler',
                              args.keys_dir or conf.signing.trusted_schedulers_dir, args.name,
                              args.public_key,
                              replace=args.replace)
