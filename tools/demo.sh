#!/usr/bin/env bash
# The README's first command: prepare this Debian machine (as root) and run the kvmfleet demo.
# It starts a scheduler on an embedded SQLite store, a simulated fleet and, when libvirt can
# run QEMU here, a real agent; boots VMs through RabbitMQ; shows the placements, the per-cell
# usage and one NoValidHost with its explanation; then stops everything it started.
# Usage: tools/demo.sh [--keep-state] [--in-process]
set -euo pipefail
cd "$(dirname "$0")/.."
# The demo keeps its state in SQLite: PostgreSQL is only for the test suite and HA setups.
bash tools/setup-host.sh --no-postgres
exec .venv/bin/python tools/demo.py "$@"
