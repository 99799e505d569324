#!/bin/bash
# Source devstack/plugin.sh the way DevStack does, with DevStack's functions stubbed.
# Usage: harness.sh WORK_DIR PLUGIN_ARGS...   e.g. harness.sh /tmp/x stack post-config
# Every stubbed call is appended to $WORK_DIR/calls as one tab-separated line:
#   function<TAB>arg1<TAB>arg2...
# Environment: HARNESS_ENABLED_SERVICES (default "kvmfleet-scheduler kvmfleet-agent"),
# HARNESS_NO_GET_TRANSPORT_URL=1 to act as an old devstack without get_transport_url,
# HARNESS_KVMFLEET_DIR for a checkout other than this one, and
# any KVMFLEET_* / RABBIT_* variable a local.conf would set.
set -o errexit -o nounset -o pipefail

WORK_DIR=$1
shift
CALLS=$WORK_DIR/calls
touch "$CALLS"
REPO_ROOT=$(cd "$(dirname "$0")/../../.." && pwd)

record() {
    local IFS=$'\t'
    echo "$*" >> "$CALLS"
}

# DevStack's environment, pointed at the work directory.
DEST=$WORK_DIR/opt/stack
DATA_DIR=$WORK_DIR/opt/stack/data
STACK_USER=$(id -un)
KVMFLEET_DIR=${HARNESS_KVMFLEET_DIR:-$REPO_ROOT}
KVMFLEET_CONF_DIR=$WORK_DIR/etc/kvmfleet
ENABLED_SERVICES=${HARNESS_ENABLED_SERVICES-kvmfleet-scheduler kvmfleet-agent}

# DevStack's functions the plugin may call.
define_plugin() { record define_plugin "$@"; }
echo_summary() { record echo_summary "$@"; }
get_python_exec_prefix() { echo "$WORK_DIR/bin"; }
install_package() { record install_package "$@"; }
pip_install() { record pip_install "$@"; }
setup_develop() { record setup_develop "$@"; }
iniset() { record iniset "$@"; }
iniset_multiline() { record iniset_multiline "$@"; }
run_process() { record run_process "$@"; }
stop_process() { record stop_process "$@"; }
recreate_database() { record recreate_database "$@"; }
add_user_to_group() { record add_user_to_group "$@"; }
database_connection_url() { echo "postgresql://root:secretdb@10.0.0.5/$1?client_encoding=utf8"; }
get_transport_url() { echo "rabbit://stackrabbit:secretmq@10.0.0.5:5672/"; }
# sudo runs the command as is (every path is under WORK_DIR) and records it.
sudo() { record sudo "$@"; "$@"; }
is_service_enabled() {
    local service
    for service in "$@"; do
        [[ " $ENABLED_SERVICES " == *" $service "* ]] && return 0
    done
    return 1
}
if [[ "${HARNESS_NO_GET_TRANSPORT_URL:-0}" == 1 ]]; then
    unset -f get_transport_url
fi

# The installed commands the plugin runs itself (not through run_process) record their call.
mkdir -p "$WORK_DIR/bin"
export HARNESS_CALLS=$CALLS
cat > "$WORK_DIR/bin/kvmfleet-manage" <<'STUB'
#!/bin/bash
IFS=$'\t'
printf 'kvmfleet-manage\t%s\n' "$*" >> "$HARNESS_CALLS"
STUB
chmod +x "$WORK_DIR/bin/kvmfleet-manage"

# shellcheck source=devstack/settings
source "$REPO_ROOT/devstack/settings"
# shellcheck source=devstack/plugin.sh
source "$REPO_ROOT/devstack/plugin.sh" "$@"
record harness_done "$@"
