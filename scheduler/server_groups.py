"""Server groups as first-class objects: created once, policy fixed, members tracked.

A group is stored by name with its policy and Nova's one rule
(``max_server_per_host``, anti-affinity only).  A request names its group
either by name (``"server_group": "web"``: the group must exist) or inline
(``{"name", "policy"[, "rules"]}``: created on first use, and afterwards the
policy and rules must be the stored ones — a group's policy never changes).
``resolved`` puts the stored group in the request before it is parsed, so
the engine, explain and capacity see one complete ``ServerGroup``; a boot
creates a new inline group (``ensure``) only once its whole request parsed.

Members are the instances (not DELETED) whose spec names the group; the
filters count the ones holding a claim on each host.  Unlike Nova, group
names are unique (kvmfleet has no projects), and a group with members cannot
be deleted (its members would silently join the next group of that name).
"""

from scheduler.specs.request import parse_server_group
from scheduler.store import GroupInUse, NotFound
from wire import names, rpc


def as_request(record):
    """The stored group in a request's ``server_group`` form."""
    group = {'name': record.name, 'policy': record.policy}
    if record.max_server_per_host is not None:
        group['rules'] = {'max_server_per_host': record.max_server_per_host}
    return group


def resolved(store, request):
    """``request`` with its server group as stored; changes nothing.

    A name must be a stored group; an inline group that exists must ask for its
    stored policy and rules; a new inline group is left as given (``ensure``
    creates it once the whole request has parsed).
    """
    raw = request.get('server_group')
    if raw is None:
        return request
    if isinstance(raw, str):
        names.instance_name(raw, 'server_group')
        try:
            return dict(request, server_group=as_request(store.get_server_group(raw)))
        except NotFound:
            raise rpc.invalid('server_group', f"no server group named {raw!r} (create it: "
                              "kvmfleet server-group create)") from None
    if not isinstance(raw, dict):
        return request     # the parser names what is wrong with it
    group = parse_server_group(raw)
    try:
        record = store.get_server_group(group.name)
    except NotFound:
        return request
    return dict(request, server_group=same_as_stored(group, record))


def ensure(store, group):
    """Create ``group`` (a parsed ServerGroup) unless stored; Conflict if stored otherwise."""
    if group is not None:
        same_as_stored(group, create_group(store, group)[0])


def create_group(store, group):
    """(record, created); a name taken concurrently answers the stored group."""
    return store.create_server_group(group.name, group.policy, group.max_server_per_host)


def same_as_stored(group, record):
    """The stored group's request form, or Conflict when ``group`` asks another policy."""
    if (group.policy, group.max_server_per_host) != (record.policy, record.max_server_per_host):
        given = as_request(record)
        raise rpc.BusError(rpc.CONFLICT, f"server_group: group {record.name!r} exists with "
                           f"policy {record.policy}"
                           f"{', rules ' + str(given['rules']) if 'rules' in given else ''}; "
                           "a group's policy and rules never change")
    return as_request(record)


def listing(store):
    """Every group with its member count (one pass over the instances)."""
    counts = store.group_member_counts()
    return [dict(g.to_dict(), rules=as_request(g).get('rules', {}), members=counts.get(g.name, 0))
            for g in store.list_server_groups()]


def view(store, record):
    """What ``server-group show`` answers: the group and its members."""
    members = store.group_members(record.name)
    return dict(record.to_dict(), rules=as_request(record).get('rules', {}),
                members=[{'uuid': m.uuid, 'name': m.name, 'state': m.state, 'host': m.host}
                         for m in members])


class GroupEndpoints:
    """The server group endpoints of the scheduler (scheduler RPC 1.3), a part of
    SchedulerManager: they use its ``store``."""

    @rpc.endpoint
    def server_group_create(self, ctxt, group):
        """Create a group (1.3); its policy and rules never change afterwards."""
        rpc.check(group, dict, 'group')
        record, created = create_group(self.store, parse_server_group(group))
        if not created:
            raise rpc.BusError(rpc.CONFLICT, f"server group {record.name!r} already exists "
                               f"(policy {record.policy})")
        return view(self.store, record)

    @rpc.endpoint
    def server_group_list(self, ctxt):
        return {'server_groups': listing(self.store)}

    @rpc.endpoint
    def server_group_show(self, ctxt, group):
        return view(self.store, self._group(group))

    @rpc.endpoint
    def server_group_delete(self, ctxt, group):
        """Delete a group that has no members left."""
        self._group(group)
        try:
            return self.store.delete_server_group(group).to_dict()
        except NotFound as exc:
            raise rpc.BusError(rpc.NOT_FOUND, str(exc)) from None
        except GroupInUse as exc:
            raise rpc.BusError(rpc.CONFLICT, str(exc), {'members': exc.members}) from None

    def _group(self, name):
        names.instance_name(name, 'group')
        try:
            return self.store.get_server_group(name)
        except NotFound as exc:
            raise rpc.BusError(rpc.NOT_FOUND, str(exc)) from None

