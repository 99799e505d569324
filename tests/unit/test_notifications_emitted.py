"""Every event type of wire.notifications.EVENTS, emitted through the real scheduler and
agent code paths into oslo.messaging's ``test`` notification driver (configured as an
operator would: ``[oslo_messaging_notifications] driver``), each message valid against
its payload's JSON Schema and shaped as its sample in docs/notification_samples.

KVMFLEET_WRITE_NOTIFICATION_SAMPLES=1 rewrites the samples from this run (then review
the diff: a changed shape is a payload version change).
"""

import json
import os
import types

import pytest
from oslo_config import cfg
from oslo_context import context as oslo_context
from oslo_messaging.notify import _impl_test

from agent import simulated
from agent.exceptions import AgentError
from scheduler.cmd.service import load_catalog
from scheduler.engine import EngineSettings, build_engine
from scheduler.manager import SchedulerManager
from scheduler.store import ERROR, Store
from tests import busfleet, notifications
from tests.unit.agent.test_manager import HOSTS, RecordingScheduler, placement
from tests.unit.scheduler.test_manager import Clock, RecordingAgents, add_hosts
from tests.unit.scheduler.test_move_endpoints import MovingAgents, kill
from wire import context, rpc
from wire import notifications as wire_notifications

U1, U2 = (f"00000000-0000-4000-8000-0000000001{i:02d}" for i in range(2))
MISSING = '00000000-0000-4000-8000-000000000199'
FLAVOR = 'c1.pinned-isolate'     # of etc/kvmfleet/flavors.yaml: pins, held siblings, emulator
PORTS = busfleet.SRIOV['ports']  # and a VF: every list of the samples has an item
BIGGER = {'vcpus': 4, 'memory_mb': 1024, 'extra_specs': {'hw:cpu_policy': 'dedicated'}}
ISOLATED = {'name': 'sample', 'vcpus': 4, 'memory_mb': 8192, 'ports': PORTS,
            'extra_specs': {'hw:cpu_policy': 'dedicated', 'hw:cpu_thread_policy': 'isolate',
                            'hw:emulator_threads_policy': 'isolate'}}    # FLAVOR, expanded


@pytest.fixture
def test_driver():
    """[oslo_messaging_notifications] driver = test: messages kept in memory; the request
    context each test starts is not left behind for the next."""
    cfg.CONF.set_override('driver', ['test'], group='oslo_messaging_notifications')
    _impl_test.reset()
    yield
    cfg.CONF.clear_override('driver', group='oslo_messaging_notifications')
    _impl_test.reset()
    oslo_context._request_store.context = None


def sent():
    """The messages the test driver got, as listeners receive them."""
    return [message for _ctxt, message, _priority, _retry in _impl_test.NOTIFICATIONS]


def scheduler_steps(tmp_path):
    clock = Clock()
    store = Store(f"sqlite:///{tmp_path}/s.sqlite", clock=clock).create_schema()
    notifier = wire_notifications.from_conf(cfg.CONF, 'kvmfleet-scheduler:controller-1',
                                            url='kombu+memory:////')
    flavors, aliases = load_catalog(str(notifications.REPO / 'etc' / 'kvmfleet' /
                                        'flavors.yaml'))
    manager = SchedulerManager(store, build_engine(EngineSettings(seed=1, max_alternates=3)),
                               RecordingAgents(), notifier=notifier, clock=clock,
                               flavors=flavors, aliases=aliases)
    world = types.SimpleNamespace(manager=manager)
    hosts = add_hosts(world, 3)                                     # host.up
    call(manager.host_set_enabled, host=hosts[2]['name'], enabled=False,
         reason='maintenance')                                      # host.disabled
    call(manager.host_set_enabled, host=hosts[2]['name'], enabled=True)  # host.enabled
    request = {'name': 'sample', 'flavor': FLAVOR, 'ports': PORTS}
    uuid = call(manager.boot, request=request)['instances'][0]['uuid']     # schedule.*
    first = store.get_instance(uuid).host
    call(manager.instance_update, instance=uuid, host=first, state=ERROR,
         reason='VERIFY_FAILED: cpu 3 busy')                        # instance.reschedule
    with pytest.raises(rpc.BusError):
        call(manager.boot, request=dict(busfleet.PINNED, vcpus=64))  # create.error
    clock.now += 61
    manager.check_hosts()                                           # host.down
    call(manager.delete, instance=uuid)      # its host is down: delete.start/end here
    notifier.close()
    store.dispose()


def move_steps(tmp_path):
    """Moves through the scheduler's mover, with agents that answer at once."""
    clock = Clock()
    store = Store(f"sqlite:///{tmp_path}/moves.sqlite", clock=clock).create_schema()
    notifier = wire_notifications.from_conf(cfg.CONF, 'kvmfleet-scheduler:controller-1',
                                            url='kombu+memory:////')
    agents = MovingAgents()
    manager = SchedulerManager(store, build_engine(EngineSettings(seed=1)), agents,
                               notifier=notifier, clock=clock)
    manager.spawn = lambda target, *args: target(*args)      # moves run in line
    world = agents.manager = types.SimpleNamespace(manager=manager, clock=clock)
    agents.manager = manager
    add_hosts(world, 3)
    a, b = (active(manager, name) for name in ('a', 'b'))
    call(manager.migrate, instance=a, live=True)                    # live_migration.*
    call(manager.migrate, instance=b)                               # migrate.*
    agents.refusal = 'VERIFY_FAILED: pCPU 3 is pinned by another domain'
    call(manager.migrate, instance=a, live=True)                    # live_migration.error
    call(manager.migrate, instance=b)                               # migrate.error
    agents.refusal = None
    call(manager.host_drain, host=store.get_instance(a).host)       # host.drain.*
    dead = store.get_instance(a).host
    kill(world, dead)
    others = [name for name in manager.state.generations if name != dead]
    for name in others:
        call(manager.host_set_enabled, host=name, enabled=False)
    call(manager.evacuate, host=dead)                               # evacuate.error
    for name in others:
        call(manager.host_set_enabled, host=name, enabled=True)
    call(manager.evacuate, host=dead)                               # evacuate.start/end
    c = active(manager, 'c')
    for ending in (manager.resize_revert, manager.resize_confirm):
        call(manager.resize, instance=c, request=BIGGER)
        call(manager.instance_update, instance=c, host=store.get_instance(c).host,
             state='ACTIVE')                                        # resize.start/end
        call(ending, instance=c)                              # resize_revert/confirm.*
    agents.refusal = 'VERIFY_FAILED: pCPU 3 is pinned by another domain'
    call(manager.resize, instance=c, request=BIGGER)  # resize.error
    notifier.close()
    store.dispose()


def active(manager, name):
    uuid = call(manager.boot, request=dict(busfleet.PINNED, name=name))['instances'][0]['uuid']
    call(manager.instance_update, instance=uuid, host=manager.store.get_instance(uuid).host,
         state='ACTIVE')
    return uuid


def agent_steps(tmp_path, fleet_file):
    notifier = wire_notifications.from_conf(cfg.CONF, wire_notifications.AGENT,
                                            url='kombu+memory:////')
    managers, _servers = simulated.build_fleet(fleet_file, RecordingScheduler(),
                                               path=str(tmp_path / 'sim'), notifier=notifier)
    manager = managers[0]
    spec, assignment = placement(manager.host_name, ISOLATED, U1)
    call(manager.build_instance, instance=U1, name='sample', assignment=assignment.to_dict(),
         spec=spec.to_dict(), request={'flavor': FLAVOR})           # create.start/end
    wrong = placement(manager.host_name, busfleet.PINNED, U2)[1].to_dict()
    wrong['cells'][0]['pinning']['0'] = 8          # a shared pCPU: verification fails
    call(manager.build_instance, instance=U2, name='x', assignment=wrong,
         spec=spec.to_dict(), request={})                           # create.error
    call(manager.stop, instance=U1, force=True)                     # power_off.*
    call(manager.start, instance=U1)                                # power_on.*
    call(manager.reboot, instance=U1)                               # reboot.*
    call(manager.delete_instance, instance=U1)                      # delete.*
    for operation in ('stop', 'start', 'reboot'):                   # their .error events
        call(getattr(manager, operation), instance=MISSING)
    manager.driver.delete = refuse         # deleting what is gone succeeds: make libvirt fail
    call(manager.delete_instance, instance=U2)                      # delete.error
    notifier.close()
    return assignment


def refuse(uuid):
    raise AgentError(f"undefine of {uuid} failed: libvirt said no")


def call(endpoint, **arguments):
    """An endpoint as the RPC server calls it, past the bus wrappers (no signing here)."""
    return endpoint.__wrapped__(endpoint.__self__, {}, **arguments)


@pytest.fixture
def fleet_file(tmp_path):
    path = tmp_path / 'fleet.json'
    path.write_text(json.dumps({'version': 1, 'hosts': HOSTS}))
    return path


def test_every_event_type_is_emitted_valid_and_shaped_as_its_sample(test_driver, tmp_path,
                                                                    fleet_file):
    context.start_request()       # as the RPC server does for each message
    scheduler_steps(tmp_path)
    move_steps(tmp_path)
    agent_steps(tmp_path, fleet_file)
    messages = sent()
    if os.environ.get('KVMFLEET_WRITE_NOTIFICATION_SAMPLES') == '1':
        write_samples(messages)
    assert set(m['event_type'] for m in messages) == set(wire_notifications.EVENTS)
    for message in messages:
        notifications.check(message)
    publishers = {m['event_type']: m['publisher_id'] for m in messages}
    assert publishers['instance.schedule.end'] == 'kvmfleet-scheduler:controller-1'
    assert publishers['instance.create.end'] == f"kvmfleet-agent:{HOSTS[0]['name']}"


def test_the_agent_tells_each_step_in_order_with_the_exact_assignment(test_driver, tmp_path,
                                                                      fleet_file):
    request = context.start_request()     # as the RPC server does for each message
    assignment = agent_steps(tmp_path, fleet_file)
    steps = [(m['event_type'], m['payload']['kvmfleet_object.data']['state'])
             for m in sent()
             if m['payload']['kvmfleet_object.data']['uuid'] == U1]
    assert steps == [('instance.create.start', 'BUILDING'), ('instance.create.end', 'ACTIVE'),
                     ('instance.power_off.start', 'ACTIVE'),
                     ('instance.power_off.end', 'STOPPED'),
                     ('instance.power_on.start', 'STOPPED'), ('instance.power_on.end', 'ACTIVE'),
                     ('instance.reboot.start', 'ACTIVE'), ('instance.reboot.end', 'ACTIVE'),
                     ('instance.delete.start', 'ACTIVE'), ('instance.delete.end', 'DELETED')]
    ended = next(m['payload']['kvmfleet_object.data'] for m in sent()
                 if m['event_type'] == 'instance.delete.end')
    assert ended['assignment']['pci_devices'][0]['physical_network'] == busfleet.PHYSNET
    assert ended['vcpus'] == 4 and ended['name'] == 'sample'
    assert ended['assignment']['emulator_pcpus'] == sorted(assignment.emulator_pcpus)
    assert ended['request_id'] == request.request_id
    failed = next(m['payload']['kvmfleet_object.data'] for m in sent()
                  if m['event_type'] == 'instance.create.error')
    assert failed['fault']['exception'] == 'VERIFY_FAILED'
    assert 'PCPU_NOT_DEDICATED' in failed['fault']['message']


def write_samples(messages):
    """One sample per event type: its first message in this run."""
    first = {}
    for message in messages:
        first.setdefault(message['event_type'], message)
    notifications.SAMPLES.mkdir(exist_ok=True)
    for event_type, message in first.items():
        (notifications.SAMPLES / f"{event_type}.json").write_text(
            json.dumps(message, indent=2, sort_keys=True) + '\n')
