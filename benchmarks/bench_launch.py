"""Agent launch latency: build request -> domain running (guest boot excluded).

Each run calls InstanceDriver.build_and_launch for the functional test's guest
(2 vCPUs pinned, 2 MiB hugepages, multiqueue virtio-net, direct kernel boot)
on the real libvirtd, then deletes it (not timed).  The clock stops when
libvirt reports the domain running; the guest kernel's boot is not included.

    .venv/bin/python benchmarks/bench_launch.py [--runs 15] [--virt-type qemu]

Needs root, libvirtd (tools/setup-host.sh) and the test image
(tools/build-test-image.sh).
"""

import argparse
import json
import os
import pathlib
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid as uuid_lib

from agent.discovery.host import discover
from agent.discovery.opts import HostSettings
from agent.driver import InstanceDriver
from agent.driver_opts import DriverConfig
from agent.libvirt_conn import LibvirtConnection
from wire.assignment import Assignment, CellAssignment
from wire.request_spec import CPU_DEDICATED, GuestCell, PortRequest, RequestSpec

IMAGE_DIR = pathlib.Path('/var/lib/kvmfleet/images/test-guest')


class TimedConnection:
    """The seam with define/start timed, to split launch time into its steps."""

    def __init__(self, conn):
        self._conn = conn
        self.timings = {}

    def __getattr__(self, name):
        method = getattr(self._conn, name)
        if name not in ('define_domain', 'start_domain'):
            return method

        def timed(*args):
            started = time.perf_counter()
            try:
                return method(*args)
            finally:
                self.timings[name] = time.perf_counter() - started
        return timed


def request():
    spec = RequestSpec(name='bench', vcpus=2, memory_mb=256, cpu_policy=CPU_DEDICATED,
                       dedicated_vcpus=frozenset({0, 1}),
                       numa_cells=(GuestCell(0, (0, 1), 256),), page_size=2048,
                       ports=(PortRequest(),), multiqueue=True)
    placed = Assignment(host='bench-host', instance=str(uuid_lib.uuid4()), vcpus=2,
                        memory_mb=256, cells=(CellAssignment(0, 0, (0, 1), 256, 2048,
                                                             {0: 0, 1: 1}, frozenset()),))
    return spec, placed


def machine():
    cpu = next((line.split(':', 1)[1].strip() for line in
                pathlib.Path('/proc/cpuinfo').read_text().splitlines()
                if line.startswith('model name')), platform.processor())
    versions = subprocess.run(['virsh', '-c', 'qemu:///system', 'version'],
                              capture_output=True, text=True).stdout
    libvirt = next((ln.split(':', 1)[1].strip() for ln in versions.splitlines()
                    if ln.startswith('Using library')), '?')
    qemu = next((ln.split(':', 1)[1].strip() for ln in versions.splitlines()
                 if ln.startswith('Running hypervisor')), '?')
    return (f"{platform.node()}: {os.cpu_count()} x {cpu}, {platform.system()} "
            f"{platform.release()}, {libvirt}, {qemu}, Python {platform.python_version()}")


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', type=int, default=15)
    parser.add_argument('--virt-type', default='qemu', choices=('kvm', 'qemu'))
    parser.add_argument('--uri', default='qemu:///system')
    args = parser.parse_args(argv)
    if args.runs < 10:
        parser.error('--runs: at least 10 runs for a p50')
    image = json.loads((IMAGE_DIR / 'image.json').read_text())
    image['cmdline'] += ' kvmfleet_hold=120'     # keep guests up: their poweroff is not timed
    conn = TimedConnection(LibvirtConnection(args.uri))
    host = discover(conn, HostSettings(dedicated_set=frozenset({0, 1}),
                                       reserved_host_memory_mb=0, virt_type=args.virt_type),
                    host_name='bench-host').topology
    instances = tempfile.mkdtemp(dir='/var/lib/kvmfleet', prefix='bench-instances-')
    os.chmod(instances, 0o755)
    config = DriverConfig(instances_path=instances, images_path=str(IMAGE_DIR),
                          virt_type=args.virt_type, launch_timeout=30)
    driver = InstanceDriver(conn, host, config)
    totals, defines, starts = [], [], []
    try:
        for _ in range(args.runs + 1):              # the first run warms caches: dropped
            result = driver.build_and_launch(*request(), image)
            if not result.ok:
                sys.exit(f"launch failed: {result.reason}: {result.detail}")
            totals.append(result.elapsed_s)
            defines.append(conn.timings['define_domain'])
            starts.append(conn.timings['start_domain'])
            driver.delete(result.uuid)
    finally:
        shutil.rmtree(instances, ignore_errors=True)
    totals, defines, starts = totals[1:], defines[1:], starts[1:]
    print(f"machine: {machine()}")
    print(f"command: {' '.join([sys.executable, *sys.argv])}")
    print(f"virt_type={args.virt_type} runs={args.runs} (after 1 warm-up)")
    print(f"build request -> running: p50 {statistics.median(totals) * 1000:.0f} ms, "
          f"p90 {percentile(totals, 0.9) * 1000:.0f} ms, min {min(totals) * 1000:.0f} ms, "
          f"max {max(totals) * 1000:.0f} ms")
    print(f"  of which define p50 {statistics.median(defines) * 1000:.0f} ms, "
          f"start p50 {statistics.median(starts) * 1000:.0f} ms")


if __name__ == '__main__':
    main()
