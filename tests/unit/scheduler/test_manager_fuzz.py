"""Fuzzing every scheduler endpoint in process: only documented error codes come back,
a refused message changes nothing in the store, and each one is answered quickly."""

import pytest
from hypothesis import HealthCheck, given, settings

from scheduler.engine import EngineSettings, build_engine
from scheduler.manager import SchedulerManager
from scheduler.store import Store
from tests import busfleet, rpc_fuzz
from tests.unit.scheduler.test_manager import Clock, RecordingAgents
from wire import rpc

UUID = '6f1c3b52-93a4-4d5e-8c1a-0b2d3e4f5a61'
# An SEV host, so the fuzz mutates the slot counts and SEV-SNP support of a report too.
HOST = dict(busfleet.host('fuzz-0000'), sev_slots=2, sev_es_slots=2, sev_snp_supported=True)
DOMAIN = {'uuid': UUID, 'name': 'vm', 'state': 'running'}
UPDATE = {'instance': UUID, 'host': 'fuzz-0000', 'state': 'ERROR', 'reason': 'x'}
TEMPLATES = {
    'boot': {'request': busfleet.SRIOV, 'instance_uuids': [UUID], 'make_room': True},
    'delete': {'instance': UUID}, 'stop': {'instance': 'vm'}, 'start': {'instance': UUID},
    'reboot': {'instance': UUID}, 'show': {'instance': 'vm'}, 'console_log': {'instance': UUID},
    'list': {'state': 'ACTIVE', 'host': 'fuzz-0000'}, 'hosts': {},
    'host_detail': {'host': 'fuzz-0000'},
    'host_set_enabled': {'host': 'fuzz-0000', 'enabled': False, 'reason': 'fuzz'},
    'explain': {'request': busfleet.HUGE, 'make_room': True},
    'capacity': {'request': busfleet.PINNED},
    'report_host': {'host': HOST, 'instances': [DOMAIN], 'listing_age': 1.5},
    'instance_update': UPDATE, 'instance_updates': {'updates': [UPDATE, UPDATE]},
    'migrate': {'instance': UUID, 'live': True, 'host': 'fuzz-0001'},
    'migrations': {'instance': UUID, 'host': 'fuzz-0000', 'active': False},
    'host_drain': {'host': 'fuzz-0000', 'live': True, 'concurrency': 2},
    'drain_status': {'host': 'fuzz-0000'}, 'evacuate': {'host': 'fuzz-0000'},
    'migration_update': {'migration': UUID, 'host': 'fuzz-0000', 'status': 'failed',
                         'reason': 'x'},
    'placed_elsewhere': {'host': 'fuzz-0000', 'instances': [UUID]},
    'resize': {'instance': UUID, 'request': {'vcpus': 4, 'memory_mb': 2048}},
    'resize_confirm': {'instance': UUID}, 'resize_revert': {'instance': 'vm'},
    'server_group_create': {'group': {'name': 'g', 'policy': 'anti-affinity',
                                      'rules': {'max_server_per_host': 2}}},
    'server_group_list': {}, 'server_group_show': {'group': 'g'},
    'server_group_delete': {'group': 'g'},
}


@pytest.fixture(scope='module')
def scheduler(tmp_path_factory):
    clock = Clock()
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('fuzz')}/s.sqlite",
                  clock=clock).create_schema()
    manager = SchedulerManager(store, build_engine(EngineSettings(seed=1)), RecordingAgents(),
                               clock=clock)
    manager.spawn = lambda target, *args: target(*args)   # no move runs behind the checks
    for host in busfleet.fleet(3, prefix='fuzz'):
        manager.report_host.__wrapped__(manager, {}, host=host, instances=[])
    guard = rpc.GuardedDispatcher([manager], None, rpc.messaging.ExplicitRPCAccessPolicy)
    yield manager, guard
    store.dispose()


def test_every_endpoint_is_among_the_templates(scheduler):
    manager, _ = scheduler
    assert rpc_fuzz.exposed_methods(manager) == set(TEMPLATES)


@settings(max_examples=600, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(message=rpc_fuzz.messages(TEMPLATES, version='1.1'))
def test_a_hostile_message_gets_a_documented_answer_and_changes_nothing(scheduler, message):
    manager, guard = scheduler
    before = rpc_fuzz.store_dump(manager.store)
    code, answer = rpc_fuzz.checked_answer(guard, message)
    if code in rpc_fuzz.REFUSALS:
        assert rpc_fuzz.store_dump(manager.store) == before, answer.message


# The hostile messages of issue 9, each refused with a documented code and no change.
ISSUE_CASES = [
    ('boot', {'request': dict(busfleet.PINNED, vcpus='²')}),
    ('boot', {'request': dict(busfleet.PINNED, vcpus='--5')}),
    ('boot', {'request': dict(busfleet.PINNED, vcpus=2 ** 63)}),
    ('boot', {'request': dict(busfleet.PINNED, vcpus=300000000)}),
    ('boot', {'request': dict(busfleet.PINNED, count=30000000)}),
    ('boot', {'request': dict(busfleet.PINNED, name='a\ud800')}),
    ('boot', {'request': dict(busfleet.PINNED, name='a\x00')}),
    ('boot', {'request': dict(busfleet.PINNED, name='x' * 256)}),
    ('boot', {'request': dict(busfleet.PINNED, extra_specs={'hw:numa_nodes': '²'})}),
    ('boot', {'request': dict(busfleet.PINNED, extra_specs={'pci_passthrough:alias': 'x:²'})}),
    ('boot', {'request': dict(busfleet.PINNED,
                              image_properties={'hw_machine_type': "pc'/><x a='"})}),
    ('report_host', {'host': dict(HOST, name='../../etc/passwd'), 'instances': []}),
    ('report_host', {'host': dict(HOST, name='Ⅻ'), 'instances': []}),
    ('report_host', {'host': dict(HOST, aggregates={'a': 1}), 'instances': []}),
    ('report_host', {'host': dict(HOST, traits=[1]), 'instances': []}),
    ('report_host', {'host': dict(HOST, cells=[dict(HOST['cells'][0], cpus='0-300000000')]),
                     'instances': []}),
    ('report_host', {'host': HOST, 'instances': [DOMAIN] * 5000}),
    ('report_host', {'host': dict(HOST, sev_snp_supported='maybe'), 'instances': []}),
    ('report_host', {'host': dict(HOST, sev_es_slots=-2), 'instances': []}),
    ('report_host', {'host': HOST, 'instances': [], 'listing_age': -1}),
    ('report_host', {'host': HOST, 'instances': [], 'listing_age': float('nan')}),
    ('report_host', {'host': HOST, 'instances': [], 'listing_age': 1e9}),
    ('report_host', {'host': HOST, 'instances': [], 'listing_age': '3'}),
    ('report_host', {'host': HOST, 'instances': [], 'listing_age': True}),
    ('instance_updates', {'updates': [UPDATE] * 1001}),
    ('show', {'instance': 'a\u202eb'}),
    ('boot', {'request': busfleet.PINNED, 'make_room': 'yes'}),
    ('explain', {'request': busfleet.PINNED, 'make_room': 1}),
]


@pytest.mark.parametrize('method,args', ISSUE_CASES, ids=[f"{m}-{i}" for i, (m, _) in
                                                          enumerate(ISSUE_CASES)])
def test_the_issues_hostile_messages_are_refused(scheduler, method, args):
    manager, guard = scheduler
    before = rpc_fuzz.store_dump(manager.store)
    message = {'method': method, 'version': '1.1', 'args': args}
    code, answer = rpc_fuzz.checked_answer(guard, message)
    assert code == rpc.INVALID_INPUT, answer
    assert rpc_fuzz.store_dump(manager.store) == before
