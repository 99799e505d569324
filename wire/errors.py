"""Errors for input that crosses a boundary: files, bus messages, flavors."""


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
