"""The release of this kvmfleet: one answer for ``--version``, logs and reports.

Read from the installed package's metadata (pbr writes it at install time),
so a checkout that is not installed says ``unknown`` instead of failing.
"""

from importlib import metadata

PACKAGE = 'kvmfleet'
VENDOR = 'kvmfleet developers'


def version_string():
    """The installed package's version, e.g. ``0.1.0`` or ``0.0.1.dev175``."""
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        return 'unknown'


def version_line(prog):
    """What ``PROG --version`` prints."""
    return f"{prog} {version_string()}"


class ReleaseInfo:
    """The version object the Guru Meditation Report's package section reads."""

    def vendor_string(self):
        return VENDOR

    def product_string(self):
        return PACKAGE

    def version_string_with_package(self):
        return version_string()


def add_version_argument(parser, prog):
    """``--version`` on an argparse parser: prints the version line and exits 0."""
    parser.add_argument('--version', action='version', version=version_line(prog))
