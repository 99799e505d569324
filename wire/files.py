"""Fleet and request files: versioned JSON (YAML accepted) written by hand.

A fleet file is ``{"version": 1, "hosts": [...]}``, a request file
``{"version": 1, "requests": [...]}``.  A malformed file raises FileFormatError
naming the file and the place in it.
"""

import json

from wire import json_stream
from wire.errors import FieldError, InvalidInput, shown
from wire.gcpause import gc_paused
from wire.limits import DEFAULT
from wire.topology import HostTopology

SUPPORTED_VERSION = 1
TOO_MANY_DIGITS = 'a number has more than 4300 digits'


class FileFormatError(ValueError):
    """A fleet or request file that cannot be read; the message names the place."""


def load_document(path):
    """Parse JSON, or YAML for ``.yaml``/``.yml`` files."""
    try:
        with open(path, encoding='utf-8') as handle:
            text = handle.read()
    except OSError as exc:
        raise FileFormatError(f"{path}: cannot read: {exc.strerror}")
    if str(path).endswith(('.yaml', '.yml')):
        return _load_yaml(path, text)
    try:
        with gc_paused():
            return json.loads(text)
    except json.JSONDecodeError as exc:
        raise FileFormatError(f"{path}: line {exc.lineno} column {exc.colno}: {exc.msg}")
    except RecursionError:
        raise FileFormatError(f"{path}: nested too deeply")
    except ValueError:    # Python refuses to convert an integer of over 4300 digits
        raise FileFormatError(f"{path}: {TOO_MANY_DIGITS}")


def _load_yaml(path, text):
    import yaml
    # libyaml's loader refuses deep nesting at once; the pure-Python one recurses for
    # seconds before it fails (a file of 10,000 '[' took 2 s).
    loader = getattr(yaml, 'CSafeLoader', yaml.SafeLoader)
    try:
        with gc_paused():
            return yaml.load(text, Loader=loader)
    except RecursionError:
        raise FileFormatError(f"{path}: nested too deeply")
    except (ValueError, TypeError, OverflowError) as exc:   # a tagged or typed scalar
        raise FileFormatError(f"{path}: a value cannot be read: {shown(str(exc))}")
    except yaml.YAMLError as exc:
        mark = getattr(exc, 'problem_mark', None)
        where = f"line {mark.line + 1} column {mark.column + 1}: " if mark else ''
        raise FileFormatError(f"{path}: {where}{getattr(exc, 'problem', exc)}")


def _items(path, document, key):
    if not isinstance(document, dict):
        raise FileFormatError(f"{path}: expected an object with 'version' and '{key}'")
    version = document.get('version')
    if version != SUPPORTED_VERSION:
        raise FileFormatError(f"{path}: version: {shown(version)} is not supported "
                              f"(this kvmfleet reads version {SUPPORTED_VERSION})")
    items = document.get(key)
    if not isinstance(items, list):
        raise FileFormatError(f"{path}: {key}: is required and must be a list")
    return items


def parse_fleet(document, source='fleet', limits=DEFAULT):
    """HostTopology objects from a parsed fleet document, each within ``limits``."""
    with gc_paused():
        hosts = _hosts(source, document, limits)
    return _unique(source, hosts)


def _unique(source, hosts):
    seen, duplicates = set(), set()
    for host in hosts:
        (duplicates if host.name in seen else seen).add(host.name)
    if duplicates:
        raise FileFormatError(f"{source}: hosts: names {sorted(duplicates)} appear more than once")
    return hosts


def _hosts(source, document, limits):
    hosts = []
    for index, raw in enumerate(_items(source, document, 'hosts')):
        hosts.append(_host(source, index, raw, limits))
    return hosts


def _host(source, index, raw, limits):
    try:
        return HostTopology.from_dict(raw, f"hosts[{index}]", limits)
    except (FieldError, InvalidInput) as exc:
        raise FileFormatError(f"{source}: {exc}")


def load_fleet(path, limits=DEFAULT):
    """HostTopology objects of a fleet file.

    A JSON file is read host by host, never whole (wire/json_stream.py): a
    100,000-host file is 400 MiB of text, and five times that once parsed.  A
    file the stream cannot take apart, and YAML, are read whole, as before, so
    every error reads the same.
    """
    if not str(path).endswith(('.yaml', '.yml')):
        try:
            with open(path, encoding='utf-8') as handle, gc_paused():
                return _streamed_fleet(handle, str(path), limits)
        except (json_stream.NotStreamable, UnicodeDecodeError):
            pass
        except OSError as exc:
            raise FileFormatError(f"{path}: cannot read: {exc.strerror}")
    return parse_fleet(load_document(path), str(path), limits)


def _streamed_fleet(handle, source, limits):
    hosts, failures = [], []

    def on_host(index, raw):
        if not failures:    # after the first bad host, only the JSON is still checked
            try:
                hosts.append(_host(source, index, raw, limits))
            except FileFormatError as exc:
                failures.append(exc)

    document = json_stream.read_object(handle, 'hosts', on_host)
    if document.get('hosts') is True:
        document['hosts'] = []          # streamed: checked as a list below
    _items(source, document, 'hosts')   # version and shape, as a whole read checks them
    if failures:
        raise failures[0]
    return _unique(source, hosts)


def load_requests(path):
    """The raw request dicts of a request file (validated later, one by one)."""
    items = _items(str(path), load_document(path), 'requests')
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise FileFormatError(f"{path}: requests[{index}]: expected an object")
    return items
