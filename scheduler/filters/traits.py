"""Traits: every ``trait:X=required`` on the host, no ``trait:X=forbidden``."""

from scheduler.filters.base import TRAIT_FORBIDDEN, TRAIT_MISSING, BaseFilter


class TraitsFilter(BaseFilter):
    name = 'traits'
    cost = 1
    static = True

    def applies(self, spec):
        return bool(spec.required_traits or spec.forbidden_traits)

    def static_key(self, spec):
        return (spec.required_traits, spec.forbidden_traits)

    def host_passes(self, host_state, spec):
        traits = host_state.topology.traits
        missing = spec.required_traits - traits
        if missing:
            return self.reject(host_state, TRAIT_MISSING,
                               f"host lacks required trait(s) {', '.join(sorted(missing))}")
        present = spec.forbidden_traits & traits
        if present:
            return self.reject(host_state, TRAIT_FORBIDDEN,
                               f"host has forbidden trait(s) {', '.join(sorted(present))}")
        return None
