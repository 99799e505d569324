"""BuildCasts: the builds of one host claimed while its previous cast leaves go in one."""

import threading

import pytest

from scheduler.build_casts import BuildCasts


class Marks:
    def __init__(self):
        self.cast_uuids = []

    def cast(self, uuids):
        self.cast_uuids.extend(uuids)


class SlowAgents:
    """Records casts; the first to ``blocked_host`` waits until ``release`` is set."""

    def __init__(self, blocked_host=None, fail_host=None):
        self.casts = []
        self.blocked_host, self.fail_host = blocked_host, fail_host
        self.entered, self.release = threading.Event(), threading.Event()

    def build_instance(self, host, **build):
        self._cast(host, [build['instance']])

    def build_instances(self, host, builds):
        self._cast(host, [b['instance'] for b in builds])

    def _cast(self, host, uuids):
        if host == self.fail_host:
            raise RuntimeError('broker gone')
        if host == self.blocked_host and not self.entered.is_set():
            self.entered.set()
            assert self.release.wait(10)
        self.casts.append((host, uuids))


def build(uuid):
    return {'instance': uuid, 'name': uuid, 'assignment': {}, 'spec': {}, 'request': {}}


def test_alone_a_build_leaves_at_once_and_its_mark_is_cleared():
    agents, marks = SlowAgents(), Marks()
    BuildCasts(marks).send(agents, [('h1', build('a')), ('h2', build('b')),
                                    ('h1', build('c'))])
    assert agents.casts == [('h1', ['a', 'c']), ('h2', ['b'])]
    assert set(marks.cast_uuids) == {'a', 'b', 'c'}


def test_builds_for_a_host_whose_cast_is_leaving_go_together_next():
    agents, marks = SlowAgents(blocked_host='h1'), Marks()
    casts = BuildCasts(marks)
    first = threading.Thread(target=casts.send, args=(agents, [('h1', build('a'))]))
    first.start()
    assert agents.entered.wait(10)
    answered = []
    others = [threading.Thread(target=lambda u=u: (casts.send(agents, [('h1', build(u))]),
                                                   answered.append(u)))
              for u in ('b', 'c')]
    for thread in others:
        thread.start()
    for _ in range(100):                       # both queued behind the cast in flight
        if len(casts._queued.get('h1', ())) == 2:
            break
        threading.Event().wait(0.01)
    assert answered == [] and marks.cast_uuids == []    # nobody answered before its cast
    agents.release.set()
    for thread in [first, *others]:
        thread.join(10)
    assert agents.casts == [('h1', ['a']), ('h1', ['b', 'c'])]
    assert sorted(answered) == ['b', 'c'] and sorted(marks.cast_uuids) == ['a', 'b', 'c']
    assert casts._queued == {} and casts._sending == set()


def test_a_failed_cast_fails_its_boots_and_keeps_their_marks():
    agents, marks = SlowAgents(fail_host='h2'), Marks()
    casts = BuildCasts(marks)
    with pytest.raises(RuntimeError):
        casts.send(agents, [('h1', build('a')), ('h2', build('b'))])
    assert agents.casts == [('h1', ['a'])] and marks.cast_uuids == ['a']   # b: cast again
    casts.send(agents, [('h1', build('c'))])                   # nothing is left stuck
    assert agents.casts[-1] == ('h1', ['c'])


def test_a_batch_is_bounded():
    agents, marks = SlowAgents(), Marks()
    BuildCasts(marks, max_batch=2).send(agents, [('h', build(u)) for u in 'abcde'])
    assert agents.casts == [('h', ['a', 'b']), ('h', ['c', 'd']), ('h', ['e'])]


class Interrupted(BaseException):
    pass


def test_a_sender_interrupted_leaves_no_build_waiting_and_no_host_stuck():
    agents, marks = SlowAgents(blocked_host='h1'), Marks()
    casts = BuildCasts(marks)
    interrupted = []

    def lead():
        try:
            casts.send(agents, [('h1', build('a'))])
        except Interrupted:
            interrupted.append('a')
    leader = threading.Thread(target=lead)
    leader.start()
    assert agents.entered.wait(10)
    errors = []
    queued = threading.Thread(target=lambda: errors.append(
        pytest.raises(Interrupted, casts.send, agents, [('h1', build('b'))])))
    queued.start()
    for _ in range(100):
        if casts._queued.get('h1'):
            break
        threading.Event().wait(0.01)
    agents.fail_host = None
    agents._cast = _interrupting(agents._cast)    # 'a' leaves, the next cast dies
    agents.release.set()
    leader.join(10)
    queued.join(10)
    assert not leader.is_alive() and not queued.is_alive()      # nobody hangs
    assert interrupted == ['a'] and errors[0].type is Interrupted     # b's cast failed
    assert marks.cast_uuids == ['a'] and casts._queued == {} and casts._sending == set()
    casts.send(SlowAgents(), [('h1', build('c'))])              # the host is free again


def _interrupting(cast):
    def interrupt(host, uuids):     # 'a' is in flight through ``cast`` already
        raise Interrupted()
    return interrupt
