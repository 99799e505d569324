"""Where a request's settings come from: flavor extra specs and image properties.

Nova reads most ``hw:`` extra specs twice, once from the flavor (``hw:NAME``)
and once from the image (``hw_NAME``), and resolves the pair with a rule that
depends on the setting.  This module holds the two dictionaries, the field
names used in error reports, and the small value readers every parser shares.
"""

import dataclasses

from wire import fields
from wire.errors import FieldError
from wire.limits import DEFAULT

FLAVOR_FIELD = 'extra_specs'
IMAGE_FIELD = 'image_properties'

# Nova's lenient boolean words (strutils); anything else is an error here.
TRUE_WORDS = frozenset({'1', 't', 'true', 'on', 'y', 'yes'})
FALSE_WORDS = frozenset({'0', 'f', 'false', 'off', 'n', 'no'})


def as_text(value):
    """Extra specs are strings in Nova; accept JSON scalars and render them so."""
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, int) and value.bit_length() > 64:
        return None     # not a value any setting takes; and str() of it could be slow
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return value.strip()
    return None


@dataclasses.dataclass(frozen=True)
class Sources:
    """Flavor extra specs and image properties, values rendered as text."""

    extra_specs: dict
    image_properties: dict
    limits: object = DEFAULT          # wire.limits.Limits: bounds every value read

    @classmethod
    def build(cls, extra_specs, image_properties, errors, limits=DEFAULT):
        """Normalise both dictionaries; non-scalar or over-long values are reported."""
        return cls(_texts(extra_specs, FLAVOR_FIELD, errors, limits),
                   _texts(image_properties, IMAGE_FIELD, errors, limits), limits)

    def flavor(self, key):
        return self.extra_specs.get(key)

    def image(self, key):
        return self.image_properties.get(key)

    def pair(self, name):
        """(flavor ``hw:NAME``, image ``hw_NAME``) values, each None when unset."""
        return self.flavor(f'hw:{name}'), self.image(f'hw_{name}')


def _texts(mapping, field, errors, limits):
    if mapping is None:
        return {}
    if not isinstance(mapping, dict):
        errors.add(field, f'expected an object of key: value, got {type(mapping).__name__}')
        return {}
    if len(mapping) > limits.max_extra_specs:
        errors.add(field, f'has {len(mapping)} entries, more than the maximum '
                          f'{limits.max_extra_specs}')
        return {}
    texts = {}
    for key, value in mapping.items():
        problem = fields.text_problem(key, limits.max_string_length)
        if problem:
            errors.add(f'{field}[{fields.shown(key)}]', f'the key {problem}')
            continue
        text = as_text(value)
        if text is None:
            errors.add(f'{field}.{key}', f'{fields.shown(value)} is not a string, number or '
                                         'boolean')
            continue
        problem = fields.text_problem(text, limits.max_string_length)
        if problem:
            errors.add(f'{field}.{key}', problem)
            continue
        texts[key] = text
    return texts


def checked(errors, reader, *args, **kwargs):
    """Run a wire.fields / wire.names reader; a FieldError is collected and None returned."""
    try:
        return reader(*args, **kwargs)
    except FieldError as exc:
        errors.extend([exc])
        return None


def flavor_field(key):
    return f'{FLAVOR_FIELD}.{key}'


def image_field(key):
    return f'{IMAGE_FIELD}.{key}'


def parse_bool(text, field, errors):
    """A Nova boolean word, or None (reported) when it is not one."""
    word = text.lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    errors.add(field, f'{text!r} is not a boolean (use true or false)')
    return None


def parse_choice(text, allowed, field, errors):
    """``text`` if it is one of ``allowed``, else None (reported)."""
    if text in allowed:
        return text
    errors.add(field, f'{text!r} is not one of {", ".join(allowed)}')
    return None


def flavor_choice(sources, key, allowed, errors):
    text = sources.flavor(key)
    return None if text is None else parse_choice(text, allowed, flavor_field(key), errors)


def image_choice(sources, key, allowed, errors):
    text = sources.image(key)
    return None if text is None else parse_choice(text, allowed, image_field(key), errors)


def flavor_bool(sources, key, errors):
    text = sources.flavor(key)
    return None if text is None else parse_bool(text, flavor_field(key), errors)


def image_bool(sources, key, errors):
    text = sources.image(key)
    return None if text is None else parse_bool(text, image_field(key), errors)


def unique(flavor_key, flavor_value, image_key, image_value, errors):
    """Nova's rule for most pairs: either side may set it, both must agree.

    Returns the agreed value (flavor first), None when neither is set or on
    a conflict (reported against the image property).
    """
    if flavor_value is not None and image_value is not None and flavor_value != image_value:
        errors.add(image_field(image_key),
                   f'{image_value!r} conflicts with the flavor\'s '
                   f'{flavor_key}={flavor_value!r}; they must agree when both are set')
        return None
    return flavor_value if flavor_value is not None else image_value
