"""Errors for input that crosses a boundary: files, bus messages, flavors."""

import reprlib

_SHOWN = reprlib.Repr()
_SHOWN.maxstring = _SHOWN.maxother = 60
_SHOWN.maxlist = _SHOWN.maxtuple = _SHOWN.maxdict = 4
_SHOWN.maxlevel = 2


def shown(value):
    """``repr(value)`` cut short, so an error about a huge value stays one short line."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        return f'<an integer of {value.bit_length()} bits>'
    return _SHOWN.repr(value)


class FieldError(ValueError):
    """One broken rule: ``field`` names the place, ``rule`` says what is wrong."""

    def __init__(self, field, rule):
        super().__init__(f"{field}: {rule}")
        self.field = field
        self.rule = rule

    def to_dict(self):
        return {'field': self.field, 'rule': self.rule}


class InvalidInput(ValueError):
    """Several broken rules, collected so the caller sees them all at once."""

    def __init__(self, errors):
        self.errors = list(errors)
        super().__init__('; '.join(str(e) for e in self.errors))

    def to_list(self):
        return [e.to_dict() for e in self.errors]


class Collector:
    """Gathers FieldErrors; ``raise_if_any`` turns them into InvalidInput."""

    def __init__(self):
        self.errors = []

    def add(self, field, rule):
        self.errors.append(FieldError(field, rule))

    def extend(self, errors):
        self.errors.extend(errors)

    def raise_if_any(self):
        if self.errors:
            raise InvalidInput(self.errors)
