"""Client side of the scheduler's RPC API (topic ``kvmfleet-scheduler``).

Version history:

* 1.0 - Initial version: boot, delete, stop, start, reboot, show, list,
  hosts, host_set_enabled, explain, capacity (operators); report_host,
  instance_update (agents).
* 1.1 - instance_updates: several agent results in one cast (agents batch
  them).  A client capped at 1.0 (``[upgrade_levels] scheduler``, while a
  scheduler of the previous release still runs) sends each result as its
  own 1.0 instance_update instead, in the same order.
* 1.2 - stop(force) and reboot(hard): power off without waiting for the
  guest's shutdown, power cycle.  Sent as 1.2 only when asked (a plain stop
  or reboot stays 1.0); a client capped below 1.2 refuses them.
* 1.3 - server groups as objects: server_group_create, server_group_list,
  server_group_show, server_group_delete; boot, explain and capacity accept
  ``server_group`` as a group name.  A client capped below 1.3 refuses them.
* 1.4 - host_detail(host): one host with its topology (cells' pCPUs and
  siblings, PCI devices) and the instances it holds, for the dashboard.
* 1.5 - Moves (docs/migration.md): migrate, migrations, host_drain,
  drain_status, evacuate (operators); migration_update and
  placed_elsewhere (agents); show answers the instance's migration
  records.  A client capped below 1.5 refuses them.
* 1.6 - Resize (docs/migration.md): resize(instance, request),
  resize_confirm(instance), resize_revert(instance); the state RESIZED.
  A client capped below 1.6 refuses them.
* 1.7 - Make room (docs/migration.md): explain(make_room) answers the live
  migrations after which the request fits; boot(make_room) runs them, then
  boots.  Sent as 1.7 only when asked (a plain explain or boot stays 1.0); a
  client capped below 1.7 refuses them.
* 1.8 - report_host(listing_age): seconds between the agent's listing of its
  domains and the sending of its report (the agent's monotonic clock), so a
  report worked late judges a build's grace by the listing.  A client capped
  below 1.8 sends the 1.0 report without it (judged at its arrival, as before).

Every payload is a plain dict (wire ``to_dict`` forms); errors come back as
``wire.rpc.BusError`` with a code (InvalidInput, NoValidHost, NotFound,
Conflict, OperationFailed, InternalError).  docs/rpc-api.md documents each
method's payload and answer.
"""

import time

from wire import signing, upgrade_levels

TOPIC = 'kvmfleet-scheduler'
VERSION = '1.8'
# Seconds an agent waits for a scheduler to take a report sent as a call
REPORT_CALL_TIMEOUT_S = 2
MOVES = '1.5'
RESIZE = '1.6'
MAKE_ROOM = '1.7'
LISTING_AGE = '1.8'


class SchedulerAPI:
    """Calls into the scheduler.  ``timeout`` bounds every call (seconds).

    The client is capped by ``[upgrade_levels] scheduler`` (wire/upgrade_levels.py);
    a bad value raises InvalidUpgradeLevel here.  An agent passes its host key's
    ``signer`` (wire/signing.py): its reports and results then carry the signed
    envelope the scheduler requires; operators' calls are never signed.
    """

    def __init__(self, timeout=None, url=None, signer=None):
        self.client = upgrade_levels.get_rpc_client('scheduler', TOPIC, VERSION,
                                                    timeout=timeout, url=url)
        self.signer = signer

    def _call(self, method, **kwargs):
        return self.client.prepare(version='1.0').call({}, method, **kwargs)

    def _cast(self, method, **kwargs):
        self.client.prepare(version='1.0').cast({}, method, **kwargs)

    def _signed_cast(self, host_name, method, version='1.0', **kwargs):
        """Cast an agent message, signed as ``host_name`` when this client has a signer."""
        ctxt = signing.context_for(self.signer, method, TOPIC, kwargs, host_name)
        self.client.prepare(version=version).cast(ctxt, method, **kwargs)

    def _signed_call(self, host_name, method, timeout, version='1.0', **kwargs):
        ctxt = signing.context_for(self.signer, method, TOPIC, kwargs, host_name)
        return self.client.prepare(version=version, timeout=timeout).call(ctxt, method,
                                                                          **kwargs)

    # -- operators ---------------------------------------------------------
    def boot(self, request, instance_uuids=None, make_room=False):
        """Place, claim and dispatch ``request``; {'instances': [...]} in BUILDING.

        ``make_room`` (1.7): live-migrate what the scheduler plans to make room first;
        the call then lasts as long as the moves (give the client a timeout for it).
        """
        if make_room:
            return self._call_since(MAKE_ROOM, 'boot', request=request,
                                    instance_uuids=instance_uuids, make_room=True)
        return self._call('boot', request=request, instance_uuids=instance_uuids)

    def delete(self, instance):
        return self._call('delete', instance=instance)

    def _call_option(self, method, instance, option, value):
        """``method`` with ``option`` (1.2) when asked; without it, the 1.0 call."""
        if not value:
            return self._call(method, instance=instance)
        if not self.client.can_send_version('1.2'):
            raise upgrade_levels.capped(f"{method} --{option}", '1.2')
        return self.client.prepare(version='1.2').call({}, method, instance=instance,
                                                       **{option: True})

    def stop(self, instance, force=False):
        """Power off: the guest is asked to shut down first unless ``force``."""
        return self._call_option('stop', instance, 'force', force)

    def start(self, instance):
        return self._call('start', instance=instance)

    def reboot(self, instance, hard=False):
        """Ask the guest to reboot, or power cycle it (``hard``)."""
        return self._call_option('reboot', instance, 'hard', hard)

    def show(self, instance):
        """One instance by uuid or unique name, with its assignment and attempts."""
        return self._call('show', instance=instance)

    def list(self, state=None, host=None):
        return self._call('list', state=state, host=host)

    def hosts(self):
        """Per host and per cell: used/free pCPUs, pages by size, VFs by physnet."""
        return self._call('hosts')

    def host_detail(self, host):
        """One host as ``hosts`` answers it, plus ``topology`` (1.4; capped below: refused)."""
        return self._call_since('1.4', 'host_detail', host=host)

    def host_set_enabled(self, host, enabled, reason=None):
        return self._call('host_set_enabled', host=host, enabled=enabled, reason=reason)

    def explain(self, request, make_room=False):
        """Dry run: where ``request`` would go, or why it cannot go anywhere; with
        ``make_room`` (1.7) also the live migrations after which it would fit."""
        if make_room:
            return self._call_since(MAKE_ROOM, 'explain', request=request, make_room=True)
        return self._call('explain', request=request)

    def capacity(self, request):
        """How many more instances of ``request`` the fleet can take now."""
        return self._call('capacity', request=request)

    def console_log(self, instance):
        return self._call('console_log', instance=instance)

    # -- moves (1.4) -------------------------------------------------------------
    def _moves_call(self, method, **kwargs):
        return self._call_since(MOVES, method, **kwargs)

    def migrate(self, instance, live=False, host=None):
        """Move ``instance`` (live or cold) to ``host`` or the best other host."""
        return self._moves_call('migrate', instance=instance, live=live, host=host)

    def migrations(self, instance=None, host=None, active=False):
        return self._moves_call('migrations', instance=instance, host=host, active=active)

    def host_drain(self, host, live=True, concurrency=None):
        """Disable ``host`` and move its instances off; the drain's progress."""
        return self._moves_call('host_drain', host=host, live=live, concurrency=concurrency)

    def drain_status(self, host):
        return self._moves_call('drain_status', host=host)

    def evacuate(self, host):
        """Rebuild elsewhere every instance of ``host`` (down): its migration records."""
        return self._moves_call('evacuate', host=host)

    # -- resize (1.6) -------------------------------------------------------------
    def resize(self, instance, request):
        """Resize ``instance`` to ``request`` (flavor, or vcpus/memory_mb/...): its
        migration record; the instance goes RESIZED, waiting for confirm or revert."""
        return self._call_since(RESIZE, 'resize', instance=instance, request=request)

    def resize_confirm(self, instance):
        return self._call_since(RESIZE, 'resize_confirm', instance=instance)

    def resize_revert(self, instance):
        return self._call_since(RESIZE, 'resize_revert', instance=instance)
    def _call_since(self, version, method, **kwargs):
        """A method added in ``version``: refused here when the client is capped below it."""
        if not self.client.can_send_version(version):
            raise upgrade_levels.capped(method, version)
        return self.client.prepare(version=version).call({}, method, **kwargs)

    def server_group_create(self, group):
        """Create ``{name, policy[, rules]}``; the group with its (no) members."""
        return self._call_since('1.3', 'server_group_create', group=group)

    def server_group_list(self):
        return self._call_since('1.3', 'server_group_list')

    def server_group_show(self, group):
        """One group by name, with its members."""
        return self._call_since('1.3', 'server_group_show', group=group)

    def server_group_delete(self, group):
        return self._call_since('1.3', 'server_group_delete', group=group)

    # -- agents ------------------------------------------------------------
    def report_host(self, host, instances, taken=None, listed=None):
        """Agent heartbeat: its topology dict and the instances its libvirt runs.

        With ``taken`` (a threading.Event) the report is a call: ``taken`` is set once
        a scheduler has answered it; unanswered within REPORT_CALL_TIMEOUT_S it raises
        MessagingTimeout (no scheduler consumes yet: the agent sends it again).
        ``listed``: the ``time.monotonic()`` of the domain listing; sent (1.8) as its
        age now, when the client may send 1.8.
        """
        name = host.get('name') if isinstance(host, dict) else None
        kwargs, version = {'host': host, 'instances': instances}, '1.0'
        if listed is not None and self.client.can_send_version(LISTING_AGE):
            kwargs['listing_age'] = round(max(0.0, time.monotonic() - listed), 3)
            version = LISTING_AGE
        if taken is None:
            self._signed_cast(name, 'report_host', version=version, **kwargs)
            return
        self._signed_call(name, 'report_host', REPORT_CALL_TIMEOUT_S, version=version,
                          **kwargs)
        taken.set()

    def instance_update(self, instance, host, state, reason=None):
        """Agent result of a build or lifecycle operation."""
        self._signed_cast(host, 'instance_update', instance=instance, host=host, state=state,
                          reason=reason)

    def instance_updates(self, updates):
        """Several agent results, in order: [{instance, host, state, reason}] (1.1).

        Capped below 1.1, each result leaves as its own 1.0 ``instance_update``
        cast, in order; a cast that fails stops the rest, as a failed batch would.
        Signed as the first result's host: a batch of several hosts (a simulated
        fleet) is signed by the one key they all share.
        """
        if self.client.can_send_version('1.1'):
            first = updates[0].get('host') if updates and isinstance(updates[0], dict) else None
            self._signed_cast(first, 'instance_updates', version='1.1', updates=updates)
            return
        for update in updates:
            self.instance_update(update['instance'], update['host'], update['state'],
                                 reason=update.get('reason'))

    def migration_update(self, migration, host, status, reason=None):
        """Source agent: the result of migrate_instance, migrated or failed (1.4)."""
        self._signed_cast(host, 'migration_update', version=MOVES, migration=migration,
                          host=host, status=status, reason=reason)

    def placed_elsewhere(self, host, instances, timeout=None):
        """Agent start: which of its domains the store places on another host (1.4)."""
        kwargs = {'host': host, 'instances': instances}
        ctxt = signing.context_for(self.signer, 'placed_elsewhere', TOPIC, kwargs, host)
        return self.client.prepare(version=MOVES, timeout=timeout).call(
            ctxt, 'placed_elsewhere', **kwargs)
