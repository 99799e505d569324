"""Fuzzing every agent endpoint in process: only documented error codes come back, a
refused message creates nothing, and a build whose instance uuid is readable is always
answered (instance_update), so no instance stays BUILDING."""

import os

import pytest
from hypothesis import HealthCheck, given, settings

from agent import simulated
from tests import busfleet, rpc_fuzz
from tests.unit.agent.test_manager import RecordingScheduler, placement
from wire import arguments, rpc
from wire.errors import FieldError
from wire.topology import HostTopology

UUID = '00000000-0000-4000-8000-0000000000f1'
MIGRATION = '00000000-0000-4000-8000-0000000000f2'
# A build defines and starts a domain (libvirt's test driver) on a shared 2-core machine.
BUILD_TIME_LIMIT_S = 5.0


@pytest.fixture(scope='module')
def agent(tmp_path_factory):
    path = str(tmp_path_factory.mktemp('fuzz-agent'))
    topology = HostTopology.from_dict(busfleet.host('sim-0000'))
    scheduler = RecordingScheduler()
    manager = simulated.simulated_host(topology, path, simulated.prepare_simulation(path),
                                       scheduler)
    spec, assignment = placement('sim-0000', busfleet.PINNED, UUID)
    build = {'instance': UUID, 'name': 'vm', 'assignment': assignment.to_dict(),
             'spec': spec.to_dict(), 'request': {}}
    templates = {'build_instance': build, 'build_instances': {'builds': [build]},
                 'delete_instance': {'instance': UUID},
                 'stop': {'instance': UUID}, 'start': {'instance': UUID},
                 'reboot': {'instance': UUID}, 'console_log': {'instance': UUID},
                 'report_now': {},
                 'prepare_migration': dict(build, migration=MIGRATION),
                 'migrate_instance': {'migration': MIGRATION, 'instance': UUID,
                                      'dest_host': 'sim-0001', 'dest_uri': 'sim://sim-0001',
                                      'dest_xml': '<domain/>', 'live': False,
                                      'keep_source': True},
                 'finish_migration': {'migration': MIGRATION, 'instance': UUID,
                                      'assignment': assignment.to_dict()},
                 'abort_migration': {'migration': MIGRATION, 'instance': UUID},
                 'resize_in_place': dict(build, migration=MIGRATION),
                 'revert_resize': {'migration': MIGRATION, 'instance': UUID,
                                   'assignment': assignment.to_dict()}}
    guard = rpc.GuardedDispatcher([manager], None, rpc.messaging.ExplicitRPCAccessPolicy)
    return manager, scheduler, guard, templates


def test_every_endpoint_is_among_the_templates(agent):
    manager, _, _, templates = agent
    assert rpc_fuzz.exposed_methods(manager) == set(templates)


def _files(manager):
    path = manager.driver.config.instances_path
    return sorted(os.listdir(path)) if os.path.isdir(path) else []


def _reaches_build(message):
    """The instance of a build_instance the endpoint itself reads, uuid readable (or of
    a build_instances of one such build); None for any other message."""
    args = message.get('args')
    if message.get('method') == 'build_instances' and message.get('version') == '1.0':
        if 'namespace' in message or not isinstance(args, dict) or set(args) != {'builds'}:
            return None
        builds = args['builds']
        if not (isinstance(builds, list) and len(builds) == 1 and isinstance(builds[0], dict)):
            return None
        args = builds[0]
    elif message.get('method') != 'build_instance' or message.get('version') != '1.0' or \
            'namespace' in message or not isinstance(args, dict):
        return None
    try:
        arguments.uuid(args.get('instance'), 'instance')
    except FieldError:
        return None
    # The envelope rules: argument names, and never the call's own self/ctxt.
    if all(isinstance(k, str) and rpc.ARGUMENT_NAME.match(k) and k not in ('self', 'ctxt')
           for k in message['args']):
        return args['instance']
    return None


@settings(max_examples=400, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=rpc_fuzz.st.data())
def test_a_hostile_message_gets_a_documented_answer_and_creates_nothing(agent, data):
    manager, scheduler, guard, templates = agent
    message = data.draw(rpc_fuzz.messages(templates))
    domains, files = manager.domains(), _files(manager)
    answered = len(scheduler.updates)
    code, answer = rpc_fuzz.checked_answer(guard, message, BUILD_TIME_LIMIT_S)
    if code in rpc_fuzz.REFUSALS:
        assert manager.domains() == domains and _files(manager) == files, answer.message
    built = _reaches_build(message)
    if built is not None:
        instance, _, state, reason = scheduler.updates[-1]
        assert len(scheduler.updates) == answered + 1
        assert instance == built and state in ('ACTIVE', 'ERROR')


def test_a_spec_whose_name_is_not_text_is_refused_by_build_and_prepare(agent):
    """Found by the fuzz above: a spec name of another type reached the domain builder."""
    manager, _scheduler, guard, templates = agent
    for method in ('build_instance', 'prepare_migration'):
        args = dict(templates[method], spec=dict(templates[method]['spec'], name={}))
        code, answer = rpc_fuzz.checked_answer(guard, {'method': method, 'args': args},
                                               BUILD_TIME_LIMIT_S)
        assert code == rpc.INVALID_INPUT and 'spec.name' in answer.message, answer


@pytest.mark.parametrize('key', ['extra_specs', 'image_properties', 'aggregate_specs'])
def test_a_spec_whose_mappings_are_not_objects_is_refused_by_build(agent, key):
    """Found by the fuzz above: image_properties as text reached the domain builder
    (an InternalError, 'str' object has no attribute 'get')."""
    manager, _scheduler, guard, templates = agent
    args = dict(templates['build_instance'],
                spec=dict(templates['build_instance']['spec'], **{key: 'text'}))
    code, answer = rpc_fuzz.checked_answer(guard, {'method': 'build_instance', 'args': args},
                                           BUILD_TIME_LIMIT_S)
    assert code == rpc.INVALID_INPUT and f"spec.{key}" in answer.message, answer

