#!/usr/bin/env bash
# Set up what the suite needs (tools/setup-host.sh) and run the whole test suite.
# Extra arguments go to pytest, e.g. tools/run-tests.sh tests/unit -x
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup-host.sh
export KVMFLEET_TEST_REQUIRE_SERVICES=1   # a missing broker, database or libvirtd fails, not skips
exec .venv/bin/python -m pytest -p no:cacheprovider "${@:-tests}"
