"""The agent's move endpoints (agent.move_endpoints) on simulated hosts over an
in-process bus: prepare, migrate, finish, abort, and stale copies at start."""

import time

from tests import busfleet
from tests.unit.agent import test_manager as base
from tests.unit.agent.test_manager import build, placement

agents, fleet_file = base.agents, base.fleet_file     # the simulated hosts (fixtures)

U1, U2, U3 = (f"00000000-0000-4000-8000-0000000001{i:02d}" for i in range(1, 4))
REQUEST = busfleet.SRIOV     # its VF is unplugged, moved and plugged (simulated)
M1, M2, M3 = (f"00000000-0000-4000-8000-0000000002{i:02d}" for i in range(1, 4))


def prepare(api, managers, uuid, migration, host, request=busfleet.PINNED, assignment=None):
    spec, fitted = placement(host, request, uuid, managers)
    assignment = assignment or fitted.to_dict()
    answer = api.prepare_migration(host, migration, uuid, request['name'], assignment,
                                   spec.to_dict(), {})
    return answer, assignment


def wait_for(scheduler, item, host, timeout=10, state=None):
    """The first update of ``item`` (instance or migration) sent by ``host`` (with
    ``state``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [u for u in list(scheduler.updates) if u[:2] == (item, host)
                 and state in (None, u[2])]
        if found:
            return found[0]
        time.sleep(0.02)
    raise AssertionError(f"no update of {item} from {host}")


def uuids_on(managers, host):
    return {d['uuid'] for d in managers[host].domains()}


def test_a_guest_moves_with_the_destination_claim(agents):
    managers, scheduler, api = agents
    build(api, 'sim-0000', U1, REQUEST, managers)
    assert scheduler.wait_update(U1)[2] == 'ACTIVE'
    answer, assignment = prepare(api, managers, U1, M1, 'sim-0001', REQUEST)
    assert answer['ok'] and answer['uri'] and '<domain' in answer['xml']
    api.migrate_instance('sim-0000', M1, U1, 'sim-0001', answer['uri'], answer['xml'],
                         live=True)
    assert wait_for(scheduler, M1, 'sim-0000') == (M1, 'sim-0000', 'migrated', None)
    assert U1 not in uuids_on(managers, 'sim-0000')
    api.finish_migration('sim-0001', M1, U1, assignment)
    assert wait_for(scheduler, U1, 'sim-0001')[2] == 'ACTIVE'
    [domain] = [d for d in managers['sim-0001'].domains() if d['uuid'] == U1]
    assert domain['assignment'] == assignment and domain['state'] == 'running'


def test_a_destination_refuses_a_claim_that_does_not_hold_and_aborts_cleanly(agents):
    managers, scheduler, api = agents
    _, fitted = placement('sim-0002', busfleet.PINNED, U2, managers)
    wrong = fitted.to_dict()
    wrong['cells'][0]['pinning']['0'] = 8       # a shared pCPU, not a dedicated one
    answer, _ = prepare(api, managers, U2, M2, 'sim-0002', assignment=wrong)
    assert not answer['ok'] and 'VERIFY_FAILED' in answer['reason']
    api.abort_migration('sim-0002', M2, U2)
    assert U2 not in uuids_on(managers, 'sim-0002')


def test_a_source_without_the_guest_reports_the_failure(agents):
    managers, scheduler, api = agents
    api.migrate_instance('sim-0001', M3, U3, 'sim-0002', 'sim://nowhere', '<domain/>')
    migration, host, status, reason = scheduler.wait_update(M3)
    assert (host, status) == ('sim-0001', 'failed') and 'INSTANCE_NOT_FOUND' in reason


U4, M4 = '00000000-0000-4000-8000-000000000104', '00000000-0000-4000-8000-000000000204'


def test_a_resize_moves_cold_and_keeps_the_source_until_confirmed(agents):
    managers, scheduler, api = agents
    build(api, 'sim-0002', U4, busfleet.PINNED, managers)
    assert scheduler.wait_update(U4)[2] == 'ACTIVE'
    bigger = dict(busfleet.PINNED, vcpus=4)
    answer, assignment = prepare(api, managers, U4, M4, 'sim-0000', bigger)
    assert answer['ok'], answer
    api.migrate_instance('sim-0002', M4, U4, 'sim-0000', answer['uri'], answer['xml'],
                         live=False, keep_source=True)
    assert wait_for(scheduler, M4, 'sim-0002') == (M4, 'sim-0002', 'migrated', None)
    [kept] = [d for d in managers['sim-0002'].domains() if d['uuid'] == U4]
    assert kept['state'] == 'shutoff' and len(kept['assignment']['cells'][0]['pinning']) == 2
    api.finish_migration('sim-0000', M4, U4, assignment)
    assert wait_for(scheduler, U4, 'sim-0000')[2] == 'ACTIVE'
    api.delete_instance('sim-0002', U4)          # confirmed: the source copy goes
    assert wait_for(scheduler, U4, 'sim-0002', state='DELETED')
    assert U4 not in uuids_on(managers, 'sim-0002') and U4 in uuids_on(managers, 'sim-0000')


U5, M5 = '00000000-0000-4000-8000-000000000105', '00000000-0000-4000-8000-000000000205'


def test_a_resize_in_place_redefines_and_a_revert_brings_the_old_guest_back(agents):
    managers, scheduler, api = agents
    build(api, 'sim-0001', U5, busfleet.PINNED, managers)
    assert scheduler.wait_update(U5)[2] == 'ACTIVE'
    [old] = [d['assignment'] for d in managers['sim-0001'].domains() if d['uuid'] == U5]
    bigger = dict(busfleet.PINNED, vcpus=4)
    spec, fitted = placement('sim-0001', bigger, U5, managers)   # beside the current one
    answer = api.resize_in_place('sim-0001', M5, U5, 'pinned', fitted.to_dict(),
                                 spec.to_dict(), {})
    assert answer == {'ok': True}
    [domain] = [d for d in managers['sim-0001'].domains() if d['uuid'] == U5]
    assert domain['state'] == 'shutoff' and domain['assignment'] == fitted.to_dict()
    api.finish_migration('sim-0001', M5, U5, fitted.to_dict())
    running_with(managers['sim-0001'], U5, fitted.to_dict())
    api.revert_resize('sim-0001', M5, U5, old)
    running_with(managers['sim-0001'], U5, old)


def running_with(manager, uuid, assignment, timeout=10):
    """Wait until ``uuid`` runs on ``manager``'s host with ``assignment``."""
    deadline = time.monotonic() + timeout
    while True:
        [domain] = [d for d in manager.domains() if d['uuid'] == uuid]
        if domain['assignment'] == assignment and domain['state'] == 'running':
            return
        assert time.monotonic() < deadline, domain
        time.sleep(0.05)


def test_stale_copies_are_destroyed_before_the_first_report(agents):
    managers, scheduler, api = agents
    build(api, 'sim-0002', U3, busfleet.PINNED, managers)
    assert scheduler.wait_update(U3)[2] == 'ACTIVE'
    scheduler.stale = (U3,)
    try:
        reports = len(scheduler.reports)
        managers['sim-0002'].startup(ask_timeout=5)
    finally:
        scheduler.stale = ()
    assert U3 not in uuids_on(managers, 'sim-0002')
    name, domains = scheduler.reports[reports]
    assert name == 'sim-0002' and U3 not in {d['uuid'] for d in domains}
