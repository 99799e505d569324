"""Signed envelopes: what verifies, and each way a message is refused (with its reason)."""

import copy
import json

import pytest
from oslo_messaging.rpc.dispatcher import ExpectedException

from wire import keys, rpc, signing

NOW = 1_800_000_000.0


class FixedClock:
    def __init__(self, now=NOW):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def host_key():
    return keys.generate()


@pytest.fixture
def clock():
    return FixedClock()


@pytest.fixture
def verifier(host_key, clock):
    return signing.Verifier(keys.KeySet({'h1': host_key.public_key()}), max_skew_s=60,
                            replay_capacity=1000, clock=clock)


def signed(private_key, clock, method='report_host', target='kvmfleet-scheduler',
           args=None, signer='h1'):
    args = {'host': {'name': 'h1', 'cells': []}, 'instances': []} if args is None else args
    ctxt = signing.Signer(private_key, clock=clock).context(method, target, args, signer)
    return ctxt, args


def over_the_bus(value):
    """What the receiver gets: the JSON round trip oslo.messaging's drivers make."""
    return json.loads(json.dumps(value))


def reason_of(excinfo):
    assert excinfo.value.code == signing.FORBIDDEN
    return excinfo.value.message


def test_a_signed_message_verifies_after_the_bus_round_trip(host_key, clock, verifier):
    args = {'host': {'name': 'h1', 'pages': {2048: 4, 1048576: 1}}, 'instances': ('a',)}
    ctxt, args = signed(host_key, clock, args=args)
    verifier.verify(over_the_bus(ctxt), 'report_host', 'kvmfleet-scheduler',
                    over_the_bus(args), 'h1')


def test_extra_context_keys_added_by_the_driver_do_not_matter(host_key, clock, verifier):
    ctxt, args = signed(host_key, clock)
    ctxt.update(msg_id='x', reply_q='reply_1', client_timeout=None)
    verifier.verify(ctxt, 'report_host', 'kvmfleet-scheduler', args, 'h1')


# (name, how the message is changed, words the refusal must contain)
def _drop(ctxt, args):
    ctxt.pop(signing.ENVELOPE_KEY)


def _tamper_args(ctxt, args):
    args['instances'] = [{'uuid': 'nobody-booted-this'}]


def _other_signer(ctxt, args):
    ctxt[signing.ENVELOPE_KEY]['signer'] = 'h2'


def _bad_sig(ctxt, args):
    ctxt[signing.ENVELOPE_KEY]['sig'] = 'AAAA'


def _bad_version(ctxt, args):
    ctxt[signing.ENVELOPE_KEY]['v'] = 2


def _bool_version(ctxt, args):
    ctxt[signing.ENVELOPE_KEY]['v'] = True


def _bool_ts(ctxt, args):
    ctxt[signing.ENVELOPE_KEY]['ts'] = True


def _short_nonce(ctxt, args):
    ctxt[signing.ENVELOPE_KEY]['nonce'] = 'ab'


def _hostile_signer(ctxt, args):
    ctxt[signing.ENVELOPE_KEY]['signer'] = '\u202eh1' + 'x' * 300


def _not_a_dict(ctxt, args):
    ctxt[signing.ENVELOPE_KEY] = ['v', 1]


REFUSALS = [
    ('unsigned', _drop, "unsigned message for host 'h1'"),
    ('arguments changed', _tamper_args, 'bad signature'),
    ('signer is another host', _other_signer, "signed by 'h2', not by host 'h1'"),
    ('signature not 64 bytes', _bad_sig, 'sig: not a base64 Ed25519 signature'),
    ('unknown envelope version', _bad_version, 'not a version 1 envelope'),
    ('version a boolean', _bool_version, 'not a version 1 envelope'),
    ('timestamp a boolean', _bool_ts, 'ts: not an integer'),
    ('nonce too short', _short_nonce, 'nonce: not 32 hex digits'),
    ('signer too long', _hostile_signer, 'signer: not a name'),
    ('envelope not an object', _not_a_dict, 'not a version 1 envelope'),
]


@pytest.mark.parametrize('change,words', [r[1:] for r in REFUSALS],
                         ids=[r[0] for r in REFUSALS])
def test_refusals_name_the_reason(host_key, clock, verifier, change, words):
    ctxt, args = signed(host_key, clock)
    ctxt, args = copy.deepcopy(ctxt), copy.deepcopy(args)
    change(ctxt, args)
    with pytest.raises(rpc.BusError) as excinfo:
        verifier.verify(ctxt, 'report_host', 'kvmfleet-scheduler', args, 'h1')
    assert words in reason_of(excinfo)
    assert reason_of(excinfo).startswith('report_host: ')
    assert '\n' not in reason_of(excinfo) and len(reason_of(excinfo)) < 200


def test_a_key_that_is_not_the_enrolled_one_is_refused(clock, verifier):
    ctxt, args = signed(keys.generate(), clock)
    with pytest.raises(rpc.BusError) as excinfo:
        verifier.verify(ctxt, 'report_host', 'kvmfleet-scheduler', args, 'h1')
    assert 'bad signature' in reason_of(excinfo)


def test_a_host_without_an_enrolled_key_is_refused(host_key, clock, verifier):
    ctxt, args = signed(host_key, clock, signer='h9')
    with pytest.raises(rpc.BusError) as excinfo:
        verifier.verify(ctxt, 'report_host', 'kvmfleet-scheduler', args, 'h9')
    assert "no key enrolled for 'h9'" in reason_of(excinfo)


@pytest.mark.parametrize('method,target', [('instance_update', 'kvmfleet-scheduler'),
                                           ('report_host', 'kvmfleet-agent')])
def test_a_signature_is_bound_to_its_method_and_destination(host_key, clock, verifier,
                                                            method, target):
    ctxt, args = signed(host_key, clock)
    with pytest.raises(rpc.BusError) as excinfo:
        verifier.verify(ctxt, method, target, args, 'h1')
    assert 'bad signature' in reason_of(excinfo)


def test_a_replayed_message_is_refused_the_second_time(host_key, clock, verifier):
    ctxt, args = signed(host_key, clock)
    verifier.verify(ctxt, 'report_host', 'kvmfleet-scheduler', args, 'h1')
    with pytest.raises(rpc.BusError) as excinfo:
        verifier.verify(ctxt, 'report_host', 'kvmfleet-scheduler', args, 'h1')
    assert 'replayed' in reason_of(excinfo)


@pytest.mark.parametrize('offset_s,accepted', [(-61, False), (-59, True), (59, True),
                                               (61, False)])
def test_the_timestamp_must_be_within_the_clock_skew(host_key, verifier, clock, offset_s,
                                                     accepted):
    ctxt, args = signed(host_key, FixedClock(NOW + offset_s))
    if accepted:
        verifier.verify(ctxt, 'report_host', 'kvmfleet-scheduler', args, 'h1')
        return
    with pytest.raises(rpc.BusError) as excinfo:
        verifier.verify(ctxt, 'report_host', 'kvmfleet-scheduler', args, 'h1')
    assert 'max_clock_skew 60s' in reason_of(excinfo)


def test_replay_memory_is_bounded_and_expires(host_key, clock):
    verifier = signing.Verifier(keys.KeySet({'h1': host_key.public_key()}), max_skew_s=60,
                                replay_capacity=100, clock=clock)
    for _ in range(100):
        ctxt, args = signed(host_key, clock)
        verifier.verify(ctxt, 'report_host', 'kvmfleet-scheduler', args, 'h1')
    ctxt, args = signed(host_key, clock)
    with pytest.raises(rpc.BusError) as excinfo:
        verifier.verify(ctxt, 'report_host', 'kvmfleet-scheduler', args, 'h1')
    assert 'replay cache full (100' in reason_of(excinfo)
    clock.now += 121          # every remembered nonce is past its window
    ctxt, args = signed(host_key, clock)
    verifier.verify(ctxt, 'report_host', 'kvmfleet-scheduler', args, 'h1')
    assert len(verifier.replays._seen) == 1


def test_not_required_accepts_unsigned_only_from_hosts_without_a_key(host_key, clock):
    verifier = signing.Verifier(keys.KeySet({'h1': host_key.public_key()}), required=False,
                                clock=clock)
    verifier.verify({}, 'report_host', 'kvmfleet-scheduler', {}, 'h2')
    with pytest.raises(rpc.BusError) as excinfo:
        verifier.verify({}, 'report_host', 'kvmfleet-scheduler', {}, 'h1')
    assert 'unsigned' in reason_of(excinfo)


def test_a_message_that_names_no_host_is_refused(host_key, clock, verifier):
    ctxt, args = signed(host_key, clock)
    with pytest.raises(rpc.BusError) as excinfo:
        verifier.verify(ctxt, 'report_host', 'kvmfleet-scheduler', args, None)
    assert 'names no sender' in reason_of(excinfo)


def test_any_enrolled_key_may_sign_when_the_receiver_trusts_a_set(clock):
    scheduler_key = keys.generate()
    verifier = signing.Verifier(keys.KeySet({'sched_a': scheduler_key.public_key()}),
                                clock=clock)
    ctxt, args = signed(scheduler_key, clock, method='build_instance', target='h1',
                        args={'instance': 'u1'}, signer='sched_a')
    verifier.verify(ctxt, 'build_instance', 'h1', args, signing.ANY_ENROLLED)
    with pytest.raises(rpc.BusError) as excinfo:     # the same order replayed to host h2
        verifier.verify(ctxt, 'build_instance', 'h2', args, signing.ANY_ENROLLED)
    assert 'bad signature' in reason_of(excinfo)


class Endpoint:
    verifier = None

    def __init__(self):
        self.calls = []

    @rpc.endpoint
    @signing.verified(lambda self, kwargs: kwargs.get('host'), lambda self: 'here')
    def update(self, ctxt, host, state=None):
        self.calls.append((host, state))
        return 'done'


def test_the_decorator_runs_the_method_only_when_verified(host_key, clock, verifier):
    endpoint = Endpoint()
    endpoint.verifier = verifier
    with pytest.raises(ExpectedException):
        endpoint.update({}, host='h1', state='ACTIVE')
    assert endpoint.calls == []
    ctxt, args = signed(host_key, clock, method='update', target='here',
                        args={'host': 'h1', 'state': 'ACTIVE'})
    assert endpoint.update(ctxt, **args) == 'done'
    assert endpoint.calls == [('h1', 'ACTIVE')]


def test_the_decorator_answers_wrong_arguments_as_invalid_input(caplog):
    endpoint = Endpoint()
    with pytest.raises(ExpectedException):
        endpoint.update({}, host='h1', colour='red')
    assert 'InvalidInput: update:' in caplog.text and 'colour' in caplog.text
    assert 'Traceback' not in caplog.text and endpoint.calls == []


def test_without_a_verifier_the_decorator_lets_everything_through():
    endpoint = Endpoint()
    assert endpoint.update({}, host='h1') == 'done'


def test_a_batch_may_name_several_hosts_that_share_the_signers_key(host_key, clock):
    other = keys.generate()
    verifier = signing.Verifier(keys.KeySet({'h1': host_key.public_key(),
                                             'h2': host_key.public_key(),
                                             'h3': other.public_key()}), clock=clock)
    ctxt, args = signed(host_key, clock, method='instance_updates', args={'updates': []})
    verifier.verify(ctxt, 'instance_updates', 'kvmfleet-scheduler', args, ('h1', 'h2'))
    for hosts, words in [(('h1', 'h3'), "names host 'h3', whose enrolled key is not the "
                                        "signer's ('h1')"),
                         (('h1', 'h9'), "names host 'h9', whose enrolled key"),
                         (('h2', 'h3'), "signed by 'h1', not by hosts 'h2' and 1 more")]:
        ctxt, args = signed(host_key, clock, method='instance_updates', args={'updates': []})
        with pytest.raises(rpc.BusError) as excinfo:
            verifier.verify(ctxt, 'instance_updates', 'kvmfleet-scheduler', args, hosts)
        assert words in reason_of(excinfo)
