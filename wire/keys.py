"""Ed25519 key files: make a key pair, read keys, and a directory of enrolled public keys.

A private key is a PEM (PKCS#8, unencrypted) file readable by its owner only; a
public key is a PEM (SubjectPublicKeyInfo) file.  A key directory holds one
``<name>.pub`` per enrolled sender: the scheduler's names its hosts, an agent's
names the schedulers it trusts.  Enrolment writes the file atomically and never
replaces a different key unless told to (see docs/operations.md).
"""

import os
import re
import threading
import time

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

PUBLIC_SUFFIX = '.pub'
# A key name becomes a file name: letters, digits, '.', '_', '-'; no leading dot (no
# hidden files, no '..'), at most 253 characters (a DNS name's length).
KEY_NAME = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$')
MAX_KEY_FILE_BYTES = 4096


class KeyFileError(ValueError):
    """A key file that cannot be used: the message names the file and why."""


def generate():
    """A new Ed25519 private key."""
    return ed25519.Ed25519PrivateKey.generate()


def public_pem(private_key):
    """The PEM bytes of ``private_key``'s public half."""
    return private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def write_key_pair(private_path, public_path=None, force=False):
    """Write a new private key (mode 0600) and its public key; returns the public path.

    Refuses to replace an existing private key unless ``force``: losing a key means
    enrolling its host again.
    """
    public_path = public_path or os.path.splitext(private_path)[0] + PUBLIC_SUFFIX
    key = generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    os.makedirs(os.path.dirname(os.path.abspath(private_path)), exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
    try:
        fd = os.open(private_path, flags, 0o600)
    except FileExistsError:
        raise KeyFileError(f"{private_path}: a key already exists (use --force to replace "
                           f"it; its host must then be enrolled again)") from None
    with os.fdopen(fd, 'wb') as handle:
        handle.write(pem)
    os.chmod(private_path, 0o600)
    _write_atomically(public_path, public_pem(key))
    return public_path


def _read(path):
    try:
        with open(path, 'rb') as handle:
            data = handle.read(MAX_KEY_FILE_BYTES + 1)
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_KEY_FILE_BYTES:
        raise KeyFileError(f"{path}: larger than {MAX_KEY_FILE_BYTES} bytes, not a key")
    return data


def load_private_key(path):
    """The Ed25519 private key in ``path``; KeyFileError naming the file otherwise.

    Like ssh, a key that others than its owner may read is refused: it may not be
    secret any more.
    """
    data = _read(path)
    mode = os.stat(path).st_mode
    if mode & 0o077:
        raise KeyFileError(f"{path}: mode {mode & 0o777:o}: readable by others than its "
                           f"owner (chmod 600)")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise KeyFileError(f"{path}: not an unencrypted PEM private key: {exc}") from None
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise KeyFileError(f"{path}: not an Ed25519 key")
    return key


def parse_public_key(data, where):
    """The Ed25519 public key in PEM ``data``; KeyFileError naming ``where`` otherwise."""
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise KeyFileError(f"{where}: not a PEM public key: {exc}") from None
    if not isinstance(key, ed25519.Ed25519PublicKey):
        raise KeyFileError(f"{where}: not an Ed25519 public key")
    return key


def load_public_key(path):
    return parse_public_key(_read(path), path)


def raw_public(key):
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def check_key_name(name):
    """``name`` if it can name a key file; KeyFileError saying the rule otherwise."""
    if not isinstance(name, str) or not KEY_NAME.match(name):
        raise KeyFileError(f"name {name!r}: must be 1-253 ASCII letters, digits, '.', '_' "
                           f"or '-', not starting with '.', '_' or '-'")
    return name


def enrol(directory, name, public_key_path, replace=False):
    """Put ``public_key_path``'s key in ``directory`` as ``<name>.pub``.

    Returns 'enrolled', 'unchanged' (the same key was there) or 'replaced'.  A
    different key already enrolled under ``name`` is refused unless ``replace``.
    """
    check_key_name(name)
    new_key = load_public_key(public_key_path)
    target = os.path.join(directory, name + PUBLIC_SUFFIX)
    outcome = 'enrolled'
    if os.path.exists(target):
        if raw_public(load_public_key(target)) == raw_public(new_key):
            return 'unchanged'
        if not replace:
            raise KeyFileError(f"{target}: {name} already has a different key (use --replace "
                               f"after checking why it changed)")
        outcome = 'replaced'
    os.makedirs(directory, exist_ok=True)
    _write_atomically(target, new_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return outcome


def _write_atomically(path, data):
    temporary = f"{path}.tmp{os.getpid()}"
    with open(temporary, 'wb') as handle:
        handle.write(data)
    os.chmod(temporary, 0o644)
    os.replace(temporary, path)


class KeyDirectory:
    """Enrolled public keys by name, read from ``<path>/<name>.pub``.

    Re-read when the directory changes (enrolment renames a file into it), so a
    host enrolled while the service runs is known from its next message.  A file
    that is not a valid key is skipped with its reason in ``problems``.
    """

    def __init__(self, path):
        self.path = path
        self._lock = threading.Lock()
        self._stamp = None
        self._retry_at = 0.0
        self._keys = {}
        self.problems = {}

    def _current_stamp(self):
        try:
            return os.stat(self.path).st_mtime_ns
        except OSError:
            return None

    def _reload(self, stamp):
        keys, problems = {}, {}
        try:
            names = os.listdir(self.path) if stamp is not None else []
        except OSError:
            names = []
        for file_name in names:
            name, suffix = os.path.splitext(file_name)
            if suffix != PUBLIC_SUFFIX or not KEY_NAME.match(name):
                continue
            try:
                keys[name] = load_public_key(os.path.join(self.path, file_name))
            except KeyFileError as exc:
                problems[name] = str(exc)
        self._keys, self.problems, self._stamp = keys, problems, stamp

    def get(self, name):
        """The public key enrolled as ``name``, or None."""
        stamp = self._current_stamp()
        with self._lock:
            missing = isinstance(name, str) and name not in self._keys
            # an unknown name re-reads too (at most once a second): a file renamed in
            # within the directory's timestamp granularity leaves the stamp unchanged
            if stamp != self._stamp or (missing and time.monotonic() >= self._retry_at):
                self._reload(stamp)
                self._retry_at = time.monotonic() + 1.0
            return self._keys.get(name) if isinstance(name, str) else None

    def names(self):
        self.get(None)
        return sorted(self._keys)


def key_name_of(path):
    """The signer name a key file gives: its file name without the extension."""
    return os.path.splitext(os.path.basename(path))[0]


class KeySet:
    """Public keys by name held in memory: what KeyDirectory offers, without files
    (benchmarks and tests)."""

    def __init__(self, public_keys):
        self.public_keys = dict(public_keys)

    def get(self, name):
        return self.public_keys.get(name) if isinstance(name, str) else None

    def names(self):
        return sorted(self.public_keys)
