#!/usr/bin/env bash
# Regenerate the configuration samples in etc/kvmfleet/ from the options in the code.
# Run it after adding or changing an option; tests/unit/test_config_samples.py fails
# while a committed sample differs from what this script writes.
# Usage: tools/generate-config.sh [OUTPUT_DIR]   (default: etc/kvmfleet)
set -euo pipefail
cd "$(dirname "$0")/.."
OUTPUT_DIR=${1:-etc/kvmfleet}
GENERATOR=${OSLO_CONFIG_GENERATOR:-.venv/bin/oslo-config-generator}

if [ ! -x "$GENERATOR" ]; then
  echo "generate-config: $GENERATOR not found; run tools/setup-host.sh first" >&2
  exit 1
fi
mkdir -p "$OUTPUT_DIR"
for service in scheduler agent dashboard; do
  output="$OUTPUT_DIR/kvmfleet-$service.conf.sample"
  # Python warnings (e.g. eventlet's deprecation notice) must not reach the sample or the
  # terminal; real errors still fail the script.
  PYTHONWARNINGS=ignore "$GENERATOR" \
    --config-file "etc/kvmfleet/$service-config-generator.conf" \
    --output-file "$output"
  echo "wrote $output"
done
