"""wire.arguments: each rule of a single RPC argument, with the message it gives."""

import pytest
from oslo_config import cfg

from wire import arguments, rpc

UUID = '6f1c3b52-93a4-4d5e-8c1a-0b2d3e4f5a61'


@pytest.mark.parametrize('check,value,message', [
    (arguments.uuid, UUID.upper(), 'is not a lower-case canonical UUID'),
    (arguments.uuid, '{' + UUID + '}', 'is not a lower-case canonical UUID'),
    (arguments.uuid, UUID.replace('-', ''), 'is not a lower-case canonical UUID'),
    (arguments.uuid, 'x' * 10 ** 6, 'is not a lower-case canonical UUID'),
    (arguments.uuid, 5, 'expected str, got int'),
    (arguments.instance_name, '', 'must not be empty'),
    (arguments.instance_name, 'a' * 256, 'longer than 255 characters (256)'),
    (arguments.instance_name, 'a\x00', 'contains a NUL character'),
    (arguments.instance_name, 'a\ud800', 'is not valid UTF-8 (lone surrogate)'),
    (arguments.instance_name, 'a\nb', 'contains the control or format character U+000A'),
    (arguments.instance_name, 'evil\u202egpj.exe', 'control or format character U+202E'),
    (arguments.instance_name, 'zero\u200bwidth', 'control or format character U+200B'),
    (arguments.instance_name, ['vm'], 'expected str, got list'),
    (arguments.host_name, '../../etc/passwd', 'is not a host name'),
    (arguments.host_name, 'Ⅻ', 'is not a host name'),
    (arguments.host_name, 'h\u202e1', 'is not a host name'),
    (arguments.host_name, '-h', 'is not a host name'),
    (arguments.host_name, 'h' * 256, 'is not a host name'),
    (arguments.host_name, 'a b', 'is not a host name'),
    (arguments.host_name, ['h'], 'expected str, got list'),
    (arguments.text, 'a\x00', 'contains a NUL character'),
    (arguments.text, 'x' * 4097, 'longer than 4096 characters (4097)'),
    (arguments.text, 3, 'expected str, got int'),
    (arguments.bounded_list, [0] * 1001, '1001 items, more than [DEFAULT] rpc_max_list_length '
                                        '(1000)'),
    (arguments.bounded_list, (1,), 'expected list, got tuple'),
])
def test_each_rule_names_the_field(check, value, message):
    with pytest.raises(rpc.BusError) as caught:
        check(value, 'args.x')
    assert caught.value.code == rpc.INVALID_INPUT
    assert caught.value.message.startswith('args.x: ') and message in caught.value.message
    assert len(caught.value.message) < 300


@pytest.mark.parametrize('check,value', [
    (arguments.uuid, UUID),
    (arguments.instance_name, 'web-1 (ünïcode ok) 名前'),
    (arguments.instance_name, 'a' * 255),
    (arguments.instance_ref, UUID),
    (arguments.host_name, 'compute-01.example.org'),
    (arguments.host_name, 'host_0001'),
    (arguments.host_name, 'h'),
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
