"""BackgroundNotifier: every notification published, in order, off the caller's thread."""

import threading

from wire.notify import BackgroundNotifier


class Recorder:
    """Stands in for oslo_messaging.Notifier: info/error, and prepare for a publisher."""

    def __init__(self, fail_on=None, publisher_id=None, sent=None):
        self.sent, self.threads, self.fail_on = ([] if sent is None else sent), set(), fail_on
        self.publisher_id = publisher_id

    def prepare(self, publisher_id):
        prepared = Recorder(self.fail_on, publisher_id, self.sent)
        prepared.threads = self.threads
        return prepared

    def _record(self, priority, event_type, payload):
        self.threads.add(threading.current_thread().name)
        if event_type == self.fail_on:
            raise RuntimeError('broker said no')
        self.sent.append((priority, event_type, payload) if self.publisher_id is None
                         else (self.publisher_id, priority, event_type, payload))

    def info(self, ctxt, event_type, payload):
        self._record('info', event_type, payload)

    def error(self, ctxt, event_type, payload):
        self._record('error', event_type, payload)


def test_published_in_order_from_the_worker_thread():
    recorder = Recorder()
    notifier = BackgroundNotifier(recorder)
    for index in range(50):
        notifier.info({}, 'instance.create.start', {'i': index})
    notifier.error({}, 'instance.create.error', {'i': 50})
    assert notifier.flush(5)
    assert recorder.sent == [('info', 'instance.create.start', {'i': i}) for i in range(50)] \
        + [('error', 'instance.create.error', {'i': 50})]
    assert recorder.threads == {'kvmfleet-notifier'}
    notifier.close()


def test_a_failed_publish_does_not_stop_the_rest():
    recorder = Recorder(fail_on='host.down')
    notifier = BackgroundNotifier(recorder)
    notifier.error({}, 'host.down', {'host': 'h1'})
    notifier.info({}, 'host.up', {'host': 'h1'})
    notifier.close()
    assert recorder.sent == [('info', 'host.up', {'host': 'h1'})]


def test_close_sends_what_is_queued():
    release = threading.Event()

    class Slow(Recorder):
        def info(self, ctxt, event_type, payload):
            release.wait(5)
            super().info(ctxt, event_type, payload)

    recorder = Slow()
    notifier = BackgroundNotifier(recorder)
    for index in range(3):
        notifier.info({}, 'e', {'i': index})
    assert recorder.sent == []     # the callers did not wait for the publish
    release.set()
    notifier.close()
    assert [p['i'] for _, _, p in recorder.sent] == [0, 1, 2]


def test_each_notification_goes_out_under_its_publisher():
    recorder = Recorder()
    notifier = BackgroundNotifier(recorder)
    notifier.publish('kvmfleet-agent:h1', 'info', {}, 'instance.create.start', {'i': 1})
    notifier.publish('kvmfleet-agent:h2', 'error', {}, 'instance.create.error', {'i': 2})
    notifier.publish('kvmfleet-agent:h1', 'info', {}, 'instance.create.end', {'i': 3})
    notifier.close()
    assert recorder.sent == [('kvmfleet-agent:h1', 'info', 'instance.create.start', {'i': 1}),
                             ('kvmfleet-agent:h2', 'error', 'instance.create.error', {'i': 2}),
                             ('kvmfleet-agent:h1', 'info', 'instance.create.end', {'i': 3})]
