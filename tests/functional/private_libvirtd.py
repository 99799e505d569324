"""A libvirtd of the test's own, that the test may stop and restart.

The machine's libvirtd is shared by everyone running tests; restarting it
would disturb them.  This daemon runs privileged (real QEMU guests, as under
qemu:///system) in a private mount namespace where libvirt's state, runtime
and config directories are bind mounts of directories under ``root``: it sees
none of the shared daemon's domains and they see none of its.  Like
tools/setup-host.sh starts the shared one, it runs under tini (a reaper).
Its guests outlive a restart, as with the real daemon.

For a migration between it and the machine's libvirtd it needs a host UUID of
its own (libvirt refuses a migration "to the same host" by the UUID), and may
mount a hugetlbfs of its own (``hugepages_mb``, a size limit): the kernel's
pool is shared, but that mount counts exactly the pages its guests hold.
"""

import os
import pathlib
import shlex
import signal
import subprocess
import time

from agent.exceptions import LibvirtError
from agent.libvirt_conn import LibvirtConnection

MOUNTS = {'run': '/run/libvirt', 'lib': '/var/lib/libvirt', 'etc': '/etc/libvirt',
          'cache': '/var/cache/libvirt', 'log': '/var/log/libvirt'}
QEMU_CONF = 'stdio_handler = "file"\n'     # no virtlogd in the namespace
HUGEPAGES_MOUNT = '/dev/hugepages'


class PrivateLibvirtd:
    def __init__(self, root, host_uuid=None, hugepages_mb=None):
        self.root = pathlib.Path(root)
        for name in MOUNTS:
            (self.root / name).mkdir(parents=True, exist_ok=True)
            os.chmod(self.root / name, 0o755)
        conf = 'unix_sock_dir = "/run/libvirt"\n'
        if host_uuid:
            conf += f'host_uuid = "{host_uuid}"\n'
        (self.root / 'libvirtd.conf').write_text(conf)
        self.hugepages_mb = hugepages_mb
        (self.root / 'etc' / 'qemu.conf').write_text(QEMU_CONF)
        self.pid_file = self.root / 'libvirtd.pid'
        self.uri = f"qemu+unix:///system?socket={self.root / 'run' / 'libvirt-sock'}"
        self.process = None

    def _script(self):
        mounts = ' && '.join(f"mount --bind {shlex.quote(str(self.root / name))} {target}"
                             for name, target in MOUNTS.items())
        if self.hugepages_mb:     # before libvirtd starts: it looks for hugetlbfs only then
            mounts += (' && mount -t hugetlbfs -o pagesize=2M,size='
                       f"{int(self.hugepages_mb)}M kvmfleet-private {HUGEPAGES_MOUNT}")
        return (f"{mounts} && exec tini -s -- libvirtd "
                f"-f {shlex.quote(str(self.root / 'libvirtd.conf'))} "
                f"-p {shlex.quote(str(self.pid_file))}")

    def start(self, timeout=30):
        """Start the daemon; returns the seconds until it answered."""
        started = time.monotonic()
        with open(self.root / 'libvirtd.log', 'a') as log:
            self.process = subprocess.Popen(
                ['unshare', '-m', '--propagation', 'private', 'sh', '-c', self._script()],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        while True:
            conn = LibvirtConnection(self.uri)
            try:
                conn.hostname()
                return time.monotonic() - started
            except LibvirtError as exc:
                if self.process.poll() is not None or time.monotonic() - started > timeout:
                    raise RuntimeError(f"private libvirtd did not start: {exc}; see "
                                       f"{self.root / 'libvirtd.log'}") from exc
                time.sleep(0.05)
            finally:
                conn.close()

    def hugepages_used(self):
        """2 MiB pages the daemon's own hugetlbfs holds (mapped by its guests' QEMUs)."""
        pid = int(self.pid_file.read_text().split()[0])
        stat = os.statvfs(f"/proc/{pid}/root{HUGEPAGES_MOUNT}")
        return stat.f_blocks - stat.f_bfree

    def stop(self, timeout=30):
        """SIGTERM to the daemon this object started (its guests keep running)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            try:
                os.kill(int(self.pid_file.read_text().split()[0]), signal.SIGTERM)
            except (OSError, ValueError, IndexError):
                self.process.terminate()    # tini forwards it to libvirtd
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def restart(self):
        """Stop and start again; returns the seconds the daemon did not answer."""
        started = time.monotonic()
        self.stop()
        self.start()
        return time.monotonic() - started
