"""Soft server-group policies: prefer hosts with (or without) group members.

``soft-affinity`` weighs a host by its members of the request's group,
``soft-anti-affinity`` by minus that count.  Pending members placed earlier in
the same request count (the engine's scratch fleet holds them).
"""

from scheduler.weighers.base import BaseWeigher

SOFT_AFFINITY, SOFT_ANTI_AFFINITY = 'soft-affinity', 'soft-anti-affinity'


class ServerGroupSoftWeigher(BaseWeigher):
    name = 'server_group_soft'

    def applies(self, spec):
        group = spec.server_group
        return group is not None and group.policy in (SOFT_AFFINITY, SOFT_ANTI_AFFINITY)

    def weigh(self, host_state, spec, assignment):
        members = float(host_state.members.get(spec.server_group.name, 0))
        return members if spec.server_group.policy == SOFT_AFFINITY else -members

    def preferred_hosts(self, spec, fleet):
        if spec.server_group.policy == SOFT_AFFINITY:
            return fleet.group_hosts(spec.server_group.name)
        return ()

    def avoided_hosts(self, spec, fleet):
        if spec.server_group.policy == SOFT_ANTI_AFFINITY:
            return fleet.group_hosts(spec.server_group.name)
        return ()
