"""The agent's metrics: builds by result and reason, build and launch latency, domains by
state, and libvirt errors counted at the one seam; on simulated hosts (libvirt's test
driver), the endpoints called directly."""

import json

import pytest
from oslo_messaging.rpc import dispatcher as rpc_dispatcher

from agent import libvirt_conn, metrics, simulated
from agent.driver import LaunchResult
from agent.exceptions import LibvirtError
from tests import busfleet
from tests.unit.agent.test_manager import RecordingScheduler, placement
from wire import rpc

P = 'kvmfleet_agent_'
HOSTS = busfleet.fleet(1, prefix='sim')
UUIDS = [f"00000000-0000-4000-8000-0000000001{i:02d}" for i in range(10)]


def value(agent_metrics, name, **labels):
    return agent_metrics.registry.get_sample_value(P + name, labels) or 0


@pytest.fixture
def host(tmp_path):
    fleet = tmp_path / 'fleet.json'
    fleet.write_text(json.dumps({'version': 1, 'hosts': HOSTS}))
    [manager], _servers = simulated.build_fleet(fleet, RecordingScheduler(),
                                                path=str(tmp_path / 'sim'))
    collected = metrics.AgentMetrics()
    collected.watch([manager])
    yield manager, collected
    collected.unwatch()


def build(manager, uuid, assignment=None, spec=None):
    parsed_spec, parsed = placement('sim-0000', busfleet.PINNED, uuid)
    manager.build_instance({}, instance=uuid, name='pinned',
                           assignment=assignment or parsed.to_dict(),
                           spec=spec or parsed_spec.to_dict(), request={})


def test_a_build_is_counted_timed_and_its_domain_seen_running(host):
    manager, collected = host
    build(manager, UUIDS[0])
    assert value(collected, 'builds_total', result='ok', reason='none') == 1
    assert value(collected, 'build_seconds_count') == 1
    assert value(collected, 'launch_seconds_count') == 1
    assert value(collected, 'domains', state='running') == 0     # not reported yet
    manager.report()
    assert value(collected, 'domains', state='running') == 1
    assert value(collected, 'domains', state='shutoff') == 0


def test_failed_and_refused_builds_are_counted_by_reason(host):
    manager, collected = host
    parsed_spec, parsed = placement('sim-0000', busfleet.PINNED, UUIDS[1])
    wrong = parsed.to_dict()
    wrong['cells'][0]['pinning']['0'] = 8      # a shared pCPU: the agent's verify refuses
    build(manager, UUIDS[1], assignment=wrong)
    with pytest.raises(rpc_dispatcher.ExpectedException):     # refused: assignment missing
        manager.build_instance({}, instance=UUIDS[2], name='pinned', assignment=None,
                               spec=parsed_spec.to_dict(), request={})
    assert value(collected, 'builds_total', result='error', reason='VERIFY_FAILED') == 1
    assert value(collected, 'builds_total', result='error', reason=rpc.INVALID_INPUT) == 1
    assert value(collected, 'launch_seconds_count') == 0


def test_libvirt_errors_are_counted_by_call_at_the_seam_while_watched(host):
    manager, collected = host
    conn = libvirt_conn.LibvirtConnection('test:///default')
    with pytest.raises(LibvirtError):
        conn.domain_xml('no-such-domain')
    assert value(collected, 'libvirt_errors_total', call='XMLDesc') == 1
    collected.unwatch()
    with pytest.raises(LibvirtError):
        conn.domain_xml('no-such-domain')
    assert value(collected, 'libvirt_errors_total', call='XMLDesc') == 1


@pytest.mark.parametrize('operation,call', [
    ('start instance-1', 'start'), ('XMLDesc(vm)', 'XMLDesc'), ('getFreePages(cell 0)',
                                                                 'getFreePages'),
    ('', 'other'),
])
def test_call_name(operation, call):
    assert libvirt_conn.call_name(operation) == call


def test_refusal_codes():
    assert metrics.refusal_code(rpc.BusError(rpc.NOT_FOUND, 'x')) == rpc.NOT_FOUND
    assert metrics.refusal_code(RuntimeError('bug')) == rpc.INTERNAL_ERROR


def test_domain_states_outside_libvirts_names_are_other():
    class Reported:
        domain_states = {'running': 2, 'weird' * 20: 1}
    counts = metrics.domain_counts([Reported(), Reported()])
    assert counts == {'running': 4, 'other': 2}


def test_a_result_without_a_launch_counts_no_launch_time():
    collected = metrics.AgentMetrics()
    collected.build_finished(LaunchResult('u', None, 'START_FAILED', elapsed_s=0.2))
    assert value(collected, 'builds_total', result='error', reason='START_FAILED') == 1
    assert value(collected, 'launch_seconds_count') == 0
    assert value(collected, 'build_seconds_sum') == pytest.approx(0.2)


def test_metrics_are_off_by_default():
    assert metrics.from_conf() is metrics.NO_METRICS
