"""The one rule for integers and text (wire.fields), with the exact messages."""

import pytest

from wire import fields
from wire.errors import FieldError, shown


@pytest.mark.parametrize('value, expected', [
    (5, 5), ('5', 5), ('0', 0), ('-3', -3), (2 ** 63 - 1, 2 ** 63 - 1),
])
def test_integers_accepted(value, expected):
    assert fields.integer(value, 'f', minimum=-10) == expected


@pytest.mark.parametrize('value, message', [
    ('²', "f: '²' is not an integer (ASCII digits 0-9 only)"),
    ('٣', "f: '٣' is not an integer (ASCII digits 0-9 only)"),
    ('--5', "f: '--5' is not an integer"),
    (' 5 ', "f: ' 5 ' is not an integer"),
    ('5.0', "f: '5.0' is not an integer"),
    ('1_000', "f: '1_000' is not an integer"),
    ('+5', "f: '+5' is not an integer"),
    ('', "f: '' is not an integer"),
    (5.0, 'f: 5.0 is not an integer'),
    (True, 'f: True is not an integer'),
    (None, 'f: None is not an integer'),
    (['1'], "f: ['1'] is not an integer"),
    (2 ** 63, 'f: 9223372036854775808 is above the maximum 9223372036854775807'),
    ('9' * 30, "f: '999999999999999999999999999999' is above the maximum 9223372036854775807"),
    ('-' + '9' * 30, "f: '-999999999999999999999999999999' is below the minimum 0"),
    ('HUGE', 'f: <an integer of 100001 bits> is above the maximum 9223372036854775807'),
    (-1, 'f: -1 is below the minimum 0'),
])
def test_integers_refused_with_the_rule(value, message):
    value = 2 ** 100000 if value == 'HUGE' else value   # too big for pytest's test ids
    with pytest.raises(FieldError) as caught:
        fields.integer(value, 'f')
    assert str(caught.value) == message


def test_an_explicit_maximum_is_named():
    with pytest.raises(FieldError, match='^f: 11 is above the maximum 10$'):
        fields.integer('11', 'f', maximum=10)


@pytest.mark.parametrize('value, message', [
    ('a\x00b', "f: 'a\\x00b' contains the character U+0000: control, surrogate and "
               'bidirectional-override characters are not allowed'),
    ('a\nb', "f: 'a\\nb' contains the character U+000A: control, surrogate and "
             'bidirectional-override characters are not allowed'),
    ('x\ud800', "f: 'x\\ud800' contains the character U+D800: control, surrogate and "
                'bidirectional-override characters are not allowed'),
    ('\u202egnp.exe', "f: '\\u202egnp.exe' contains the character U+202E: control, "
                      'surrogate and bidirectional-override characters are not allowed'),
    ('x' * 256, 'f: is 256 characters long, more than the maximum 255'),
    ('', "f: '' is not a non-empty string"),
    (7, 'f: 7 is not a non-empty string'),
])
def test_strings_refused_with_the_rule(value, message):
    with pytest.raises(FieldError) as caught:
        fields.string(value, 'f')
    assert str(caught.value) == message


@pytest.mark.parametrize('value', ['x' * 255, 'café', '日本', 'a b', 'q35'])
def test_strings_accepted(value):
    assert fields.string(value, 'f') == value


@pytest.mark.parametrize('reader, value, limit, message', [
    (fields.listing, [1, 2, 3], 2, 'f: has 3 items, more than the maximum 2'),
    (fields.mapping, {'a': 1, 'b': 2}, 1, 'f: has 2 entries, more than the maximum 1'),
])
def test_collections_are_bounded(reader, value, limit, message):
    with pytest.raises(FieldError) as caught:
        reader(value, 'f', limit)
    assert str(caught.value) == message


def test_shown_values_stay_short():
    assert len(shown('x' * 10000)) <= 62
    assert len(shown(list(range(100000)))) < 40
    assert shown(2 ** 200) == '<an integer of 201 bits>'
