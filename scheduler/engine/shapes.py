"""Alike hosts judged once: the engine's long walks and its explanations.

Hosts of one shape (``scheduler.engine.shape_index``) get the same verdict from the
static filters, the resource filters, the member filters and the exact fit,
but for the host name, unless this request changed them (its earlier
instances) or they hold members of its server group.  Those few are judged
on their own; of every other shape one host is judged for all.
"""

WALK_SHAPES_AFTER = 32    # hosts walked one by one before the walk judges whole shapes


def individual_hosts(context):
    """Names of the hosts judged on their own for ``context``'s request."""
    scratch = context.fleet
    special = set(scratch.changed)
    if context.spec.server_group is not None:
        special.update(scratch.group_hosts(context.spec.server_group.name))
    return special


def shape_groups(context, special):
    """(state of one host, shape, names) per shape of the base view, ``special`` aside.

    ``names`` may include special hosts: callers leave them out.
    """
    fleet = context.fleet.fleet
    for shape, names in fleet.shapes().groups().items():
        if special:
            representative = next((name for name in names if name not in special), None)
            if representative is None:
                continue
        else:
            representative = next(iter(names))
        yield fleet.state(representative), shape, names
