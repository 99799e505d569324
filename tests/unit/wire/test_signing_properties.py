"""Property-based: whatever a hostile sender puts in the context or the arguments, the
verifier answers Forbidden (one line) or accepts only the genuine message; never another
exception, never a forged message."""

import copy

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wire import keys, rpc, signing

KEY = keys.generate()
ENROLLED = {'h1': KEY.public_key()}

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                         st.text(max_size=40))
json_values = st.recursive(json_scalars, lambda children: st.one_of(
    st.lists(children, max_size=4), st.dictionaries(st.text(max_size=10), children,
                                                     max_size=4)), max_leaves=20)
envelope_fields = st.fixed_dictionaries({}, optional={
    'v': json_values, 'signer': st.one_of(st.just('h1'), json_values),
    'ts': json_values, 'nonce': json_values, 'sig': json_values})


def verifier():
    return signing.Verifier(keys.KeySet(ENROLLED), replay_capacity=10_000)


def outcome(ctxt, args, expected='h1'):
    try:
        verifier().verify(ctxt, 'report_host', 'kvmfleet-scheduler', args, expected)
    except rpc.BusError as exc:
        assert exc.code == signing.FORBIDDEN
        assert '\n' not in exc.message and len(exc.message) < 300
        return 'refused'
    return 'accepted'


@settings(max_examples=300, deadline=500, suppress_health_check=[HealthCheck.too_slow])
@given(context=st.one_of(json_values, st.dictionaries(
    st.just(signing.ENVELOPE_KEY), st.one_of(json_values, envelope_fields))),
       args=st.dictionaries(st.text(max_size=10), json_values, max_size=4))
def test_anything_but_a_genuine_signature_is_refused_with_one_line(context, args):
    assert outcome(context, args) == 'refused'


@settings(max_examples=300, deadline=500)
@given(field=st.sampled_from(['v', 'signer', 'ts', 'nonce', 'sig']), value=json_values,
       extra=st.dictionaries(st.text(max_size=10), json_values, max_size=2))
def test_changing_any_part_of_a_genuine_message_is_refused(field, value, extra):
    args = {'host': {'name': 'h1'}, 'instances': []}
    ctxt = signing.Signer(KEY).context('report_host', 'kvmfleet-scheduler', args, 'h1')
    assert outcome(copy.deepcopy(ctxt), copy.deepcopy(args)) == 'accepted'
    changed = copy.deepcopy(ctxt)
    if changed[signing.ENVELOPE_KEY][field] == value:
        return                                      # not a change
    changed[signing.ENVELOPE_KEY][field] = value
    assert outcome(changed, args) == 'refused'
    if extra and not set(extra) & set(args):
        assert outcome(copy.deepcopy(ctxt), dict(args, **extra)) == 'refused'
