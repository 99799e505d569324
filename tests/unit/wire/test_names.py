"""The name rules of wire.names: what is accepted, what is refused and the message."""

import pytest

from wire import names
from wire.errors import FieldError

HOST_RULE = names.HOST_NAME_RULE


@pytest.mark.parametrize('name', ['h', 'compute-01', 'rack1.dc2.example.org', 'node_7',
                                  'A1', 'x' * 200])
def test_host_names_accepted(name):
    assert names.host_name(name, 'host.name') == name


@pytest.mark.parametrize('name, message', [
    ('../../etc/passwd', f"host.name: '../../etc/passwd' is not a valid name: {HOST_RULE}"),
    ('Ⅻ', f"host.name: 'Ⅻ' is not a valid name: {HOST_RULE}"),
    ('h\u202e1', f"host.name: 'h\\u202e1' is not a valid name: {HOST_RULE}"),
    ('h\x00', f"host.name: 'h\\x00' is not a valid name: {HOST_RULE}"),
    ('a b', f"host.name: 'a b' is not a valid name: {HOST_RULE}"),
    ('a..b', f"host.name: 'a..b' is not a valid name: {HOST_RULE}"),
    ('.a', f"host.name: '.a' is not a valid name: {HOST_RULE}"),
    ('a.', f"host.name: 'a.' is not a valid name: {HOST_RULE}"),
    ('-a', f"host.name: '-a' is not a valid name: {HOST_RULE}"),
    ('a*', f"host.name: 'a*' is not a valid name: {HOST_RULE}"),
    ('x' * 201, f"host.name: '{'x' * 27}...{'x' * 28}' is not a valid name: {HOST_RULE}"),
    ('', "host.name: '' is not a non-empty string"),
    (5, 'host.name: 5 is not a non-empty string'),
])
def test_host_names_refused(name, message):
    with pytest.raises(FieldError) as caught:
        names.host_name(name, 'host.name')
    assert str(caught.value) == message


@pytest.mark.parametrize('name', ['web-1', 'Ⅻ', 'café au lait', 'db/primary', '日本語',
                                  'a' * 255, 'x (copy)'])
def test_instance_names_accepted(name):
    assert names.instance_name(name, 'name') == name


RULE = names.INSTANCE_NAME_RULE


@pytest.mark.parametrize('name, message', [
    ('a\x00', f"name: 'a\\x00' contains U+0000 (Cc): {RULE}"),
    ('a\tb', f"name: 'a\\tb' contains U+0009 (Cc): {RULE}"),
    ('a\ud800', f"name: 'a\\ud800' contains U+D800 (Cs): {RULE}"),
    ('evil\u202etxt', f"name: 'evil\\u202etxt' contains U+202E (Cf): {RULE}"),
    ('zero\u200bwidth', f"name: 'zero\\u200bwidth' contains U+200B (Cf): {RULE}"),
    ('a\u00a0b', f"name: 'a\\xa0b' contains U+00A0 (Zs): {RULE}"),
    ('\ue000', f"name: '\\ue000' contains U+E000 (Co): {RULE}"),
    (' padded', f"name: ' padded': {RULE}"),
    ('a' * 256, 'name: is 256 characters long, more than the maximum 255'),
    ('', "name: '' is not a non-empty string"),
    (['x'], "name: ['x'] is not a non-empty string"),
])
def test_instance_names_refused(name, message):
    with pytest.raises(FieldError) as caught:
        names.instance_name(name, 'name')
    assert str(caught.value) == message


@pytest.mark.parametrize('reader, value, message', [
    (names.instance_uuid, 'x' * 37, f"uuid: '{'x' * 37}' is not an instance uuid: "
                                    "1-36 ASCII letters, digits, '.', '_' and '-', starting "
                                    'with a letter or digit'),
    (names.instance_uuid, '../x', "uuid: '../x' is not an instance uuid: 1-36 ASCII letters, "
                                  "digits, '.', '_' and '-', starting with a letter or digit"),
    (names.pci_address, '0000:81:10', "uuid: '0000:81:10' is not a PCI address dddd:bb:ss.f "
                                      '(lower-case hex, slot 00-1f, function 0-7)'),
    (names.pci_address, '0000:81:1A.0', "uuid: '0000:81:1A.0' is not a PCI address "
                                        'dddd:bb:ss.f (lower-case hex, slot 00-1f, function '
                                        '0-7)'),
    (names.pci_id, '80861', "uuid: '80861' is not a 4-digit hex PCI id"),
    (names.trait, 'lower', "uuid: 'lower' is not a trait name (upper case, digits, _; at most "
                           '255 characters)'),
])
def test_identifiers_refused(reader, value, message):
    with pytest.raises(FieldError) as caught:
        reader(value, 'uuid')
    assert str(caught.value) == message
