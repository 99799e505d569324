"""The key commands both CLIs share: make a key pair, enrol a public key.

``kvmfleet keygen`` / ``kvmfleet enrol-host`` (scheduler side) and
``kvmfleet-agent keygen`` / ``kvmfleet-agent trust-scheduler`` (agent side) are
thin wrappers over these two functions; docs/operations.md gives the procedure.
"""

import pathlib
import sys

from wire import keys

EXIT_OK, EXIT_FAILED = 0, 1


def keygen(prog, private_path, force=False, out=None, err=None):
    """Write a new key pair; print where the public key is.  Returns the exit status."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        public_path = keys.write_key_pair(private_path, force=force)
    except (keys.KeyFileError, OSError) as exc:
        print(f"{prog}: {exc}", file=err)
        return EXIT_FAILED
    print(f"private key: {private_path}\npublic key:  {public_path}", file=out)
    return EXIT_OK


def enrol(prog, directory, name, public_path, replace=False, out=None, err=None):
    """Enrol ``public_path`` as ``name`` in ``directory``.  Returns the exit status."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        outcome = keys.enrol(directory, name, public_path, replace=replace)
    except (keys.KeyFileError, OSError) as exc:
        print(f"{prog}: {exc}", file=err)
        return EXIT_FAILED
    print(f"{name}: {outcome} in {directory}", file=out)
    return EXIT_OK


def provision(directory, host_names):
    """Every key of a one-machine deployment (demo, tests, benchmarks) under ``directory``.

    A scheduler key, one agent key shared by ``host_names`` (as a simulated fleet
    signs), the agent key enrolled under each name, the scheduler key trusted.
    Existing keys are kept, so calling it again only enrols new names.  Returns
    the ``[signing]`` option values (see ``config_section``).
    """
    directory = pathlib.Path(directory)
    paths = {'scheduler_private_key': directory / 'scheduler.key',
             'agent_private_key': directory / 'agent.key',
             'enrolled_hosts_dir': directory / 'hosts',
             'trusted_schedulers_dir': directory / 'schedulers'}
    for option in ('scheduler_private_key', 'agent_private_key'):
        if not paths[option].exists():
            keys.write_key_pair(str(paths[option]))
    keys.enrol(str(paths['trusted_schedulers_dir']), 'scheduler',
               str(directory / 'scheduler.pub'))
    for name in host_names:
        keys.enrol(str(paths['enrolled_hosts_dir']), name, str(directory / 'agent.pub'))
    return {option: str(path) for option, path in paths.items()}


def config_section(values):
    """The ``[signing]`` section of a config file holding ``values``."""
    return '[signing]\n' + ''.join(f"{option} = {value}\n" for option, value in values.items())
