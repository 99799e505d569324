"""Only hosts that are enabled and up take new instances."""

from scheduler.filters.base import HOST_DISABLED, HOST_DOWN, BaseFilter


class EnabledFilter(BaseFilter):
    name = 'enabled'
    cost = 0
    static = True

    def static_key(self, spec):
        return ()

    def host_passes(self, host_state, spec):
        topology = host_state.topology
        if not topology.enabled:
            return self.reject(host_state, HOST_DISABLED, 'host is disabled')
        if not topology.up:
            return self.reject(host_state, HOST_DOWN, 'host is down (no recent report)')
        return None
