"""wire.arguments: each rule of a single RPC argument, with the message it gives."""

import pytest
from oslo_config import cfg

from wire import arguments, rpc
from wire.errors import FieldError

UUID = '6f1c3b52-93a4-4d5e-8c1a-0b2d3e4f5a61'


@pytest.mark.parametrize('check,value,message', [
    (arguments.text, 'a\x00', 'contains a NUL character'),
    (arguments.text, 'a\ud800', 'is not valid UTF-8 (lone surrogate)'),
    (arguments.text, 'x' * 4097, 'longer than 4096 characters (4097)'),
    (arguments.text, 3, 'expected str, got int'),
    (arguments.text, '', 'must not be empty'),
    (arguments.bounded_list, [0] * 1001, '1001 items, more than [DEFAULT] rpc_max_list_length '
                                        '(1000)'),
    (arguments.bounded_list, (1,), 'expected list, got tuple'),
    (arguments.bounded_list, {}, 'expected list, got dict'),
])
def test_each_rule_names_the_field(check, value, message):
    with pytest.raises(rpc.BusError) as caught:
        check(value, 'args.x')
    assert caught.value.code == rpc.INVALID_INPUT
    assert caught.value.message.startswith('args.x: ') and message in caught.value.message
    assert len(caught.value.message) < 300


# Ids and names follow wire.names (tested in test_names.py); these are the RPC entry points.
@pytest.mark.parametrize('check,value,message', [
    (arguments.uuid, '../../etc/passwd', 'is not an instance uuid'),
    (arguments.uuid, 'x' * 37, 'is not an instance uuid'),
    (arguments.uuid, ['u'], 'is not an instance uuid'),
    (arguments.instance_ref, 'evil\u202egpj.exe', 'contains U+202E'),
    (arguments.instance_ref, 'a\x00', 'contains U+0000'),
    (arguments.instance_ref, 'x' * 256, 'more than the maximum 255'),
    (arguments.host_name, '../../etc/passwd', 'is not a valid name'),
    (arguments.host_name, 'Ⅻ', 'is not a valid name'),
])
def test_ids_and_names_follow_the_name_rules(check, value, message):
    with pytest.raises(FieldError) as caught:
        check(value, 'args.x')
    assert caught.value.field == 'args.x' and message in caught.value.rule


@pytest.mark.parametrize('check,value', [
    (arguments.uuid, UUID),
    (arguments.instance_ref, UUID),
    (arguments.instance_ref, 'web-1 (ünïcode ok) 名前'),
    (arguments.host_name, 'compute-01.example.org'),
    (arguments.text, 'VERIFY_FAILED: line 1\nline 2'),
    (arguments.text, None),
    (arguments.bounded_list, [0] * 1000),
])
def test_values_that_keep_the_rule_pass_unchanged(check, value):
    assert check(value, 'args.x') == value


def test_limits_follow_their_options():
    cfg.CONF.set_override('rpc_max_list_length', 2)
    try:
        with pytest.raises(rpc.BusError, match='3 items'):
            arguments.bounded_list([1, 2, 3], 'updates')
    finally:
        cfg.CONF.clear_override('rpc_max_list_length')


def test_one_of_lists_the_allowed_values():
    with pytest.raises(rpc.BusError, match="state: 'FLYING' is not one of A, B"):
        arguments.one_of('FLYING', 'state', ('A', 'B'))
    with pytest.raises(rpc.BusError, match='state: 1 is not one of A'):
        arguments.one_of(1, 'state', ('A',))
