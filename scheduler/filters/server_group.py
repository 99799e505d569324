"""Server group affinity and anti-affinity (the hard policies).

Members are the instances on the host whose server group has the request's
group name, including pending members that earlier instances of the same
request were placed on (the engine's scratch fleet counts them).

``affinity``: when the group has members anywhere, only their hosts pass;
the first member may go anywhere.  ``anti-affinity``: a host fails once it
holds the group's ``max_server_per_host`` members (Nova's rule; 1 by default).
"""

from scheduler.filters.base import SERVER_GROUP_AFFINITY, SERVER_GROUP_ANTI_AFFINITY, BaseFilter

AFFINITY, ANTI_AFFINITY = 'affinity', 'anti-affinity'


class AffinityFilter(BaseFilter):
    """Needs the engine to tell it whether the group already has members."""

    name = 'server_group_affinity'
    cost = 3

    def applies(self, spec):
        return spec.server_group is not None and spec.server_group.policy == AFFINITY

    def prepare(self, spec, context):
        has_members = bool(context.fleet.group_hosts(spec.server_group.name))
        return lambda host_state: self.host_passes(host_state, spec, has_members)

    def host_passes(self, host_state, spec, group_has_members=True):
        """Used alone (without ``prepare``) it assumes the group has members somewhere."""
        group = spec.server_group.name
        if group_has_members and not host_state.members.get(group):
            return self.reject(host_state, SERVER_GROUP_AFFINITY,
                               f"server group {group} (affinity) has members elsewhere, "
                               f"none on this host")
        return None


class AntiAffinityFilter(BaseFilter):
    name = 'server_group_anti_affinity'
    cost = 3

    def applies(self, spec):
        return spec.server_group is not None and spec.server_group.policy == ANTI_AFFINITY

    def host_passes(self, host_state, spec):
        group = spec.server_group
        members = host_state.members.get(group.name, 0)
        if members >= group.members_per_host:
            return self.reject(host_state, SERVER_GROUP_ANTI_AFFINITY,
                               f"server group {group.name} (anti-affinity) already has "
                               f"{members} member(s) on this host (max_server_per_host "
                               f"{group.members_per_host})")
        return None
