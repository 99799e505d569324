#!/bin/bash
# plugin.sh - DevStack entry point of kvmfleet; see devstack/settings for local.conf variables.
# DevStack sources it as: plugin.sh stack pre-install|install|post-config|extra, plugin.sh
# unstack, plugin.sh clean.

# shellcheck source=devstack/lib/kvmfleet
source "$KVMFLEET_DIR/devstack/lib/kvmfleet"

if is_service_enabled kvmfleet-scheduler kvmfleet-agent; then
    if [[ "$1" == "stack" && "$2" == "pre-install" ]]; then
        echo_summary "Installing kvmfleet system packages"
        install_kvmfleet_packages
    elif [[ "$1" == "stack" && "$2" == "install" ]]; then
        echo_summary "Installing kvmfleet"
        install_kvmfleet
    elif [[ "$1" == "stack" && "$2" == "post-config" ]]; then
        echo_summary "Configuring kvmfleet"
        configure_kvmfleet
        init_kvmfleet
        create_kvmfleet_flavors
    elif [[ "$1" == "stack" && "$2" == "extra" ]]; then
        echo_summary "Starting kvmfleet"
        start_kvmfleet
    fi

    if [[ "$1" == "unstack" ]]; then
        stop_kvmfleet
    fi

    if [[ "$1" == "clean" ]]; then
        cleanup_kvmfleet
    fi
fi
