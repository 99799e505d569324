"""The guest's CPU topology (sockets x cores x threads), decided once for both sides.

The scheduler refuses a request whose topology keys cannot be met; the agent
builds ``<cpu><topology>`` from the same function, so what was accepted is
what the guest sees.  Keys and their meaning are Nova's:

* preferred ``hw:cpu_sockets|cores|threads`` (flavor) and ``hw_cpu_*``
  (image); when the image sets any, the image's win, and none of them may
  exceed the flavor's value for the same key;
* maxima ``hw:cpu_max_sockets|cores|threads`` and ``hw_cpu_max_*``; an image
  maximum may not exceed the flavor's; preferred values may not exceed them;
* the product must be the vCPU count.

Where Nova is lenient we refuse: a preferred value no topology can meet
(``hw:cpu_sockets=3`` for 4 vCPUs) is an error naming the key, where Nova
silently picks another topology.  Among the topologies that remain, one
thread per core comes first, then one socket per guest NUMA cell (cells of
equal size; else one socket) unless sockets or cores were asked, then the
fewest sockets.
"""

import dataclasses

from wire import fields
from wire.errors import FieldError, InvalidInput

DIMENSIONS = ('sockets', 'cores', 'threads')
NOVA_MAX = 65536             # Nova's default for an unset maximum
MAX_VCPUS = 1 << 20          # keeps the divisor walk bounded whatever reaches here


@dataclasses.dataclass(frozen=True, slots=True)
class CpuTopology:
    sockets: int
    cores: int
    threads: int


def _field(origin, key):
    return f"{'extra_specs' if origin == 'flavor' else 'image_properties'}.{key}"


def _key(origin, kind, dimension):
    middle = 'max_' if kind == 'max' else ''
    return f"hw:cpu_{middle}{dimension}" if origin == 'flavor' else f"hw_cpu_{middle}{dimension}"


def _read(origin, mapping, kind, errors):
    """{dimension: positive int} of one origin's preferred or max keys."""
    values = {}
    for dimension in DIMENSIONS:
        key = _key(origin, kind, dimension)
        raw = mapping.get(key)
        if raw is None:
            continue
        value = fields.text_integer(raw, 1, 999999)
        if value is None:
            errors.append(FieldError(_field(origin, key),
                                     f"{raw!r} is not a positive integer of at most 6 digits"))
            continue
        values[dimension] = value
    return values


def _maxima(flavor_max, image_max, errors):
    maxima = {}
    for dimension in DIMENSIONS:
        flavor = flavor_max.get(dimension, NOVA_MAX)
        image = image_max.get(dimension)
        if image is not None and image > flavor:
            errors.append(FieldError(_field('image', _key('image', 'max', dimension)),
                                     f"{image} exceeds the flavor's "
                                     f"{_key('flavor', 'max', dimension)}={flavor}"))
        maxima[dimension] = min(flavor, image or flavor)
    return maxima


def _preferred(flavor_pref, image_pref, maxima, errors):
    """The preferred values in force (the image's if it sets any) and their origin."""
    for dimension, image in image_pref.items():
        flavor = flavor_pref.get(dimension)
        if flavor is not None and image > flavor:
            errors.append(FieldError(_field('image', _key('image', 'pref', dimension)),
                                     f"{image} exceeds the flavor's "
                                     f"{_key('flavor', 'pref', dimension)}={flavor}"))
    origin, preferred = ('image', image_pref) if image_pref else ('flavor', flavor_pref)
    for dimension, value in preferred.items():
        if value > maxima[dimension]:
            errors.append(FieldError(_field(origin, _key(origin, 'pref', dimension)),
                                     f"{value} exceeds the maximum of {maxima[dimension]} "
                                     f"{dimension}"))
    return origin, preferred


def _divisors(number):
    small = [d for d in range(1, int(number ** 0.5) + 1) if number % d == 0]
    return sorted(set(small + [number // d for d in small]))


def _possible(vcpus, maxima, preferred):
    """Every (sockets, cores, threads) of ``vcpus`` within the maxima matching ``preferred``."""
    found = []
    for sockets in _divisors(vcpus):
        for cores in _divisors(vcpus // sockets):
            candidate = CpuTopology(sockets, cores, vcpus // (sockets * cores))
            if all(getattr(candidate, d) <= maxima[d] for d in DIMENSIONS) and \
                    all(getattr(candidate, d) == v for d, v in preferred.items()):
                found.append(candidate)
    return found


def guest_cpu_topology(vcpus, cell_sizes, extra_specs, image_properties):
    """The CpuTopology of a guest of ``vcpus`` with guest cells of ``cell_sizes`` vCPUs.

    Raises InvalidInput naming each key that breaks a rule.
    """
    if isinstance(vcpus, bool) or not isinstance(vcpus, int) or not 1 <= vcpus <= MAX_VCPUS:
        raise InvalidInput([FieldError('vcpus', f"{vcpus!r} is not 1..{MAX_VCPUS}")])
    errors = []
    flavor, image = extra_specs or {}, image_properties or {}
    maxima = _maxima(_read('flavor', flavor, 'max', errors), _read('image', image, 'max', errors),
                     errors)
    origin, preferred = _preferred(_read('flavor', flavor, 'pref', errors),
                                   _read('image', image, 'pref', errors), maxima, errors)
    if errors:
        raise InvalidInput(errors)
    possible = _possible(vcpus, maxima, preferred)
    if not possible:
        raise InvalidInput([_impossible(vcpus, origin, preferred, maxima)])
    if 'sockets' in preferred or 'cores' in preferred:
        default_sockets = None       # the sockets follow from what was asked
    else:
        default_sockets = len(cell_sizes) if len(set(cell_sizes)) == 1 else 1
    return min(possible, key=lambda t: (t.threads != 1,
                                        t.sockets != (default_sockets or t.sockets),
                                        t.sockets, t.threads))


def _impossible(vcpus, origin, preferred, maxima):
    if preferred:
        keys = ', '.join(f"{_key(origin, 'pref', d)}={v}" for d, v in preferred.items())
        field = _field(origin, _key(origin, 'pref', next(iter(preferred))))
        return FieldError(field, f"{keys}: {vcpus} vCPUs cannot be split into sockets x cores "
                                 f"x threads that way within the maxima "
                                 f"{_maxima_text(maxima)}")
    return FieldError(_field('flavor', 'hw:cpu_max_sockets'),
                      f"{vcpus} vCPUs do not fit any sockets x cores x threads within the "
                      f"maxima {_maxima_text(maxima)}")


def _maxima_text(maxima):
    return '/'.join(str(maxima[d]) for d in DIMENSIONS) + ' (sockets/cores/threads)'
