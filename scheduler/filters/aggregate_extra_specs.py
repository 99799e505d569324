"""``aggregate_instance_extra_specs:KEY`` compared with the host's aggregate metadata.

Nova's meaning: every such key must be present in the metadata of at least
one aggregate the host belongs to, and at least one of the host's values for
the key (values of all its aggregates, each split at commas) must match.

Supported request value forms (Nova's operators):

==========  ==========================================================
``v``        string equality (no operator)
``= n``      numeric, host value >= n
``== n``     numeric equality;  ``!= n`` numeric inequality
``>= n``     numeric;  ``<= n`` numeric
``s== v``    string equality; also ``s!=``, ``s>=``, ``s<=``, ``s>``, ``s<``
``<in> v``   v is a substring of the host value
``<all-in> a b``  every word is among the host value's words
``<or> a <or> b`` host value equals one of the alternatives
==========  ==========================================================
"""

import operator

from scheduler.filters.base import AGGREGATE_EXTRA_SPEC_MISMATCH, BaseFilter

SCOPE = 'aggregate_instance_extra_specs:'


def _number(text):
    try:
        return float(text)
    except ValueError:
        return None


def _numeric(compare):
    def match(value, wanted):
        have, want = _number(value), _number(wanted)
        return have is not None and want is not None and compare(have, want)
    return match


_OPERATORS = {
    '=': _numeric(operator.ge), '==': _numeric(operator.eq), '!=': _numeric(operator.ne),
    '>=': _numeric(operator.ge), '<=': _numeric(operator.le),
    's==': operator.eq, 's!=': operator.ne, 's>=': operator.ge, 's<=': operator.le,
    's>': operator.gt, 's<': operator.lt,
    '<in>': lambda value, wanted: wanted in value,
    '<all-in>': lambda value, wanted: set(wanted.split()) <= set(value.split()),
}


def matches(value, requirement):
    """Whether one host metadata ``value`` satisfies one request ``requirement``."""
    requirement = str(requirement).strip()
    words = requirement.split()
    if not words:
        return value == requirement
    if words[0] == '<or>':
        alternatives = [w for w in words[1:] if w != '<or>']
        return value in alternatives
    compare = _OPERATORS.get(words[0])
    if compare is None or len(words) < 2:
        return value == requirement
    return compare(value, ' '.join(words[1:]))


def host_values(topology, key):
    """The host's values for ``key`` across its aggregates, comma lists split."""
    values = set()
    for metadata in topology.aggregates.values():
        if key in metadata:
            values.update(v.strip() for v in str(metadata[key]).split(','))
    return values


def wanted_specs(spec):
    """The request's aggregate specs as {key: requirement}, scope prefix removed."""
    return {(k[len(SCOPE):] if k.startswith(SCOPE) else k): v
            for k, v in spec.aggregate_specs.items()}


class AggregateExtraSpecsFilter(BaseFilter):
    name = 'aggregate_extra_specs'
    cost = 2
    static = True

    def applies(self, spec):
        return bool(spec.aggregate_specs)

    def static_key(self, spec):
        return tuple(sorted((str(k), str(v)) for k, v in spec.aggregate_specs.items()))

    def host_passes(self, host_state, spec):
        for key, requirement in sorted(wanted_specs(spec).items()):
            values = host_values(host_state.topology, key)
            if not values:
                return self.reject(host_state, AGGREGATE_EXTRA_SPEC_MISMATCH,
                                   f"no aggregate of the host sets {key} "
                                   f"(request wants {requirement!r})")
            if not any(matches(v, requirement) for v in values):
                return self.reject(host_state, AGGREGATE_EXTRA_SPEC_MISMATCH,
                                   f"aggregate {key}={','.join(sorted(values))} does not "
                                   f"match {requirement!r}")
        return None
