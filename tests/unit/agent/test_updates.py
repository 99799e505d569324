"""BatchingSchedulerAPI: results batched, in order, reports never overtake earlier results."""

import threading

from agent.updates import BatchingSchedulerAPI


class RecordingAPI:
    def __init__(self, gate=None):
        self.sent, self.gate = [], gate

    def instance_updates(self, updates):
        if self.gate is not None:
            self.gate.wait(5)
        self.sent.append(('updates', [u['instance'] for u in updates]))

    def report_host(self, host, instances, taken=None, listed=None):
        self.sent.append(('report', host['name']))


def test_results_queued_while_sending_leave_in_one_batch_in_order():
    gate = threading.Event()
    api = RecordingAPI(gate)
    batching = BatchingSchedulerAPI(api, linger=0.0)
    batching.instance_update('u0', 'h1', 'ACTIVE')
    for index in range(1, 6):       # queued while u0's cast waits for the broker
        batching.instance_update(f"u{index}", 'h1', 'ACTIVE')
    gate.set()
    assert batching.flush(5)
    flat = [u for kind, batch in api.sent for u in batch]
    assert flat == [f"u{i}" for i in range(6)]
    assert len(api.sent) < 6       # batched
    batching.close()


def test_a_report_goes_after_the_results_queued_before_it():
    api = RecordingAPI()
    batching = BatchingSchedulerAPI(api, linger=0.05)
    batching.instance_update('u1', 'h1', 'ACTIVE', None)
    batching.report_host({'name': 'h1'}, [])
    batching.instance_update('u2', 'h1', 'DELETED', None)
    batching.close()
    assert api.sent == [('updates', ['u1']), ('report', 'h1'), ('updates', ['u2'])]


def test_a_failed_cast_does_not_stop_the_sender():
    class Failing(RecordingAPI):
        def instance_updates(self, updates):
            if updates[0]['instance'] == 'bad':
                raise RuntimeError('broker gone')
            super().instance_updates(updates)

    api = Failing()
    batching = BatchingSchedulerAPI(api, linger=0.0)
    batching.instance_update('bad', 'h1', 'ACTIVE')
    assert batching.flush(5)
    batching.instance_update('good', 'h1', 'ACTIVE')
    batching.close()
    assert api.sent == [('updates', ['good'])]


def test_a_queued_report_keeps_its_listing_time_for_the_age_sent_with_it():
    class Listing(RecordingAPI):
        def report_host(self, host, instances, taken=None, listed=None):
            self.sent.append(('report', host['name'], listed))

    api = Listing()
    batching = BatchingSchedulerAPI(api, linger=0.0)
    batching.report_host({'name': 'h1'}, [], listed=12.5)
    batching.report_host({'name': 'h2'}, [])
    batching.close()
    assert api.sent == [('report', 'h1', 12.5), ('report', 'h2', None)]
