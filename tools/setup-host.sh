#!/usr/bin/env bash
# Install and start what kvmfleet's demo and test suite need on a Debian machine, as root.
# Idempotent: each step checks first and does nothing when already done.
# Usage: tools/setup-host.sh [--no-postgres]
set -euo pipefail
cd "$(dirname "$0")/.."
TOP=$PWD
WANT_POSTGRES=1
for arg in "$@"; do
  case "$arg" in
    --no-postgres) WANT_POSTGRES=0 ;;
    *) echo "setup-host: unknown option $arg" >&2; exit 2 ;;
  esac
done

step() { printf '==> %s\n' "$*"; }
export DEBIAN_FRONTEND=noninteractive

APT_UPDATED=0
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  step "installing ${missing[*]}"
  if [ "$APT_UPDATED" = 0 ]; then apt-get update -qq; APT_UPDATED=1; fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  local limit=$1 what=$2; shift 2
  for _ in $(seq "$limit"); do "$@" && return 0; sleep 1; done
  echo "setup-host: $what did not come up in ${limit}s" >&2
  return 1
}

setup_python() {
  apt_install python3 python3-venv python3-dev gcc pkg-config shellcheck \
    systemd   # systemd-analyze checks etc/systemd/ (tests/unit/test_systemd_units.py)
  if [ ! -x .venv/bin/python ]; then
    step "creating .venv"
    python3 -m venv .venv
  fi
  local stamp=.venv/.kvmfleet-installed
  local digest
  digest=$(cat setup.cfg requirements.txt test-requirements.txt constraints.txt |
           sha256sum | cut -c1-16)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$digest" ]; then
    step "installing kvmfleet and its Python requirements into .venv"
    local log=.venv/pip-install.log
    if ! { .venv/bin/pip install --upgrade pip &&
           .venv/bin/pip install -c constraints.txt -r requirements.txt \
             -r test-requirements.txt &&
           .venv/bin/pip install -c constraints.txt -e .; } >"$log" 2>&1; then
      tail -n 30 "$log" >&2
      echo "setup-host: pip install failed, full log in $log" >&2
      return 1
    fi
    echo "$digest" > "$stamp"
  fi
}

setup_rabbitmq() {
  # Installed even when a broker already listens: the TLS tests start a private node of
  # their own from /usr/lib/rabbitmq/bin (tests/functional/tls_broker.py).
  apt_install rabbitmq-server
  port_open 5672 && return 0
  step "starting RabbitMQ"
  # The default descriptor limit lets RabbitMQ take only ~800 sockets; simulated fleets need more.
  ulimit -n 65536 2>/dev/null || true
  rabbitmq-server -detached >/dev/null 2>&1 || true
  wait_for 60 RabbitMQ port_open 5672
}

setup_postgres() {
  if ! port_open 5432; then
    apt_install postgresql
    step "starting PostgreSQL"
    local versions=(/etc/postgresql/*)
    pg_ctlcluster --skip-systemctl-redirect "$(basename "${versions[0]}")" main start
    wait_for 30 PostgreSQL port_open 5432
  fi
  # The suite uses database 'kvmfleet_test' as role 'root'.
  if ! su postgres -c "psql -tAc \"SELECT 1 FROM pg_roles WHERE rolname='root'\"" | grep -q 1; then
    su postgres -c "createuser --superuser root"
  fi
  if ! psql -h 127.0.0.1 -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='kvmfleet_test'" \
      2>/dev/null | grep -q 1; then
    su postgres -c "createdb -O root kvmfleet_test" 2>/dev/null || createdb kvmfleet_test
  fi
}

setup_libvirt() {
  apt_install libvirt-daemon-system libvirt-clients libvirt-dev qemu-system-x86 qemu-utils \
    libxml2-utils tini busybox-static cpio swtpm swtpm-tools iproute2 iputils-ping ovmf
  # Hugepages: 2 MiB pool for the launch tests; hugetlbfs must be mounted before libvirtd.
  local want_pages=${KVMFLEET_HUGEPAGES:-256}
  if [ "$(cat /proc/sys/vm/nr_hugepages)" -lt "$want_pages" ]; then
    echo "$want_pages" > /proc/sys/vm/nr_hugepages || true
  fi
  mkdir -p /dev/hugepages
  if ! grep -q ' /dev/hugepages hugetlbfs' /proc/mounts; then
    mount -t hugetlbfs hugetlbfs /dev/hugepages
    # libvirtd reads hugetlbfs mounts at start: restart it if it already runs.
    if pkill -x libvirtd 2>/dev/null; then sleep 1; fi
  fi
  if [ -e /dev/kvm ]; then chgrp kvm /dev/kvm && chmod 660 /dev/kvm; fi
  # libvirt runs swtpm as tss (qemu.conf swtpm_user): a local CA or log directory that a
  # root-run swtpm_setup left behind makes every vTPM guest fail to start.
  for dir in /var/lib/swtpm-localca /var/log/swtpm/libvirt/qemu; do
    if [ -d "$dir" ] && find "$dir" ! -user tss -print -quit | grep -q .; then
      step "giving $dir back to tss"
      chown -R tss:tss "$dir"
    fi
  done
  pgrep -x virtlogd >/dev/null || virtlogd -d
  if ! pgrep -x libvirtd >/dev/null; then
    step "starting libvirtd"
    setsid tini -s -- libvirtd >/var/log/kvmfleet-libvirtd.log 2>&1 < /dev/null &
  fi
  wait_for 60 libvirtd virsh -c qemu:///system version >/dev/null 2>&1
}

setup_openvswitch() {
  # Open vSwitch with the userspace datapath (bridges of datapath_type=netdev need no kernel
  # module): the OVS guest test.  No systemd here: its own scripts start the daemons.
  apt_install openvswitch-switch
  if ! ovs-vsctl --timeout=5 show >/dev/null 2>&1; then
    step "starting ovsdb-server"
    /usr/share/openvswitch/scripts/ovs-ctl --no-ovs-vswitchd --system-id=random start >/dev/null
  fi
  if ! pgrep -x ovs-vswitchd >/dev/null; then
    step "starting ovs-vswitchd"
    ovs-vswitchd --pidfile --detach --log-file >/dev/null 2>&1
  fi
}

setup_test_image() {
  # The tiny bootable guest of the launch tests and the demo, and the disk-bus guest
  # (--devices); idempotent, ~10 s the first time.
  bash tools/build-test-image.sh >/dev/null && bash tools/build-test-image.sh --devices >/dev/null \
    && return 0
  apt-get update -qq   # stale package lists
  bash tools/build-test-image.sh >/dev/null && bash tools/build-test-image.sh --devices >/dev/null
}

# libvirt first: libvirt-python (in requirements.txt) builds against libvirt-dev.
setup_libvirt
setup_openvswitch
setup_test_image
setup_python
setup_rabbitmq
[ "$WANT_POSTGRES" = 1 ] && setup_postgres
step "host ready ($TOP)"
