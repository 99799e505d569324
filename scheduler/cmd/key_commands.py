"""``kvmfleet keygen`` and ``kvmfleet enrol-host``: the scheduler's key, and host enrolment.

Run on the scheduler's machine with its configuration (``--config-file``): the
paths default to [signing] scheduler_private_key and enrolled_hosts_dir.  A
running scheduler sees a newly enrolled host from its next message.
"""

from scheduler import trust  # noqa: F401  (registers the [signing] options read here)
from wire import key_commands


def register(subparsers):
    """Add ``keygen`` and ``enrol-host`` to the kvmfleet parser."""
    keygen = subparsers.add_parser(
        'keygen', help="make the scheduler's signing key pair")
    keygen.add_argument('--private-key', metavar='PATH',
                        help='where to write it (default: [signing] scheduler_private_key); '
                             'the public key goes beside it as .pub, for the agents')
    keygen.add_argument('--force', action='store_true', help='replace an existing key')
    keygen.set_defaults(handler=run_keygen)
    enrol = subparsers.add_parser(
        'enrol-host', help="enrol a host's public key: only it may speak for the host")
    enrol.add_argument('host', metavar='HOST', help='the host name the agent reports')
    enrol.add_argument('public_key', metavar='PUBLIC_KEY',
                       help="the agent's public key file (from `kvmfleet-agent keygen`)")
    enrol.add_argument('--keys-dir', metavar='DIR',
                       help='default: [signing] enrolled_hosts_dir')
    enrol.add_argument('--replace', action='store_true',
                       help='replace a different key already enrolled for HOST')
    enrol.set_defaults(handler=run_enrol)


def run_keygen(args, conf):
    return key_commands.keygen('kvmfleet keygen',
                               args.private_key or conf.signing.scheduler_private_key,
                               force=args.force)


def run_enrol(args, conf):
    return key_commands.enrol('kvmfleet enrol-host',
                              args.keys_dir or conf.signing.enrolled_hosts_dir, args.host,
                              args.public_key, replace=args.replace)
