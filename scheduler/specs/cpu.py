"""CPU needs: allocation policy, dedicated and realtime vCPUs, thread and emulator policies.

Nova semantics (see docs/flavors.md for the full table):

* ``hw:cpu_policy`` / ``hw_cpu_policy``: a flavor ``dedicated`` wins over
  any image value; a flavor ``mixed`` refuses an image ``dedicated``; a flavor
  ``shared`` refuses an image ``dedicated`` or ``mixed``; with no flavor value
  the image decides; default ``shared``.
* ``hw:cpu_thread_policy`` / ``hw_cpu_thread_policy``: a flavor that is unset
  or ``prefer`` keeps its own value if set, else takes the image's; a flavor
  ``isolate``/``require`` refuses a different image value.  Only for pinned
  guests.  ``trait:HW_CPU_HYPERTHREADING`` forbidden/required stands for
  isolate/require and cannot be combined with a thread policy.
* ``hw:cpu_dedicated_mask`` (mixed only) and ``hw:cpu_realtime_mask``: a
  plain set, or ``^...`` meaning every vCPU except those listed.
"""

import dataclasses

from scheduler.specs import sources as src
from wire import request_spec as rs
from wire.cpuset import CpuSetError, parse_cpuset
from wire.errors import InvalidInput
from wire.guest_cpu import guest_cpu_topology
from wire.limits import DEFAULT

CPU_POLICIES = (rs.CPU_SHARED, rs.CPU_DEDICATED, rs.CPU_MIXED)
THREAD_POLICIES = (rs.THREAD_PREFER, rs.THREAD_ISOLATE, rs.THREAD_REQUIRE)
EMULATOR_POLICIES = (rs.EMULATOR_SHARE, rs.EMULATOR_ISOLATE)
HYPERTHREADING_TRAIT = 'trait:HW_CPU_HYPERTHREADING'
_TRAIT_THREAD_POLICY = {'forbidden': rs.THREAD_ISOLATE, 'required': rs.THREAD_REQUIRE}


@dataclasses.dataclass(frozen=True)
class CpuNeeds:
    policy: str = rs.CPU_SHARED
    dedicated_vcpus: frozenset = frozenset()
    thread_policy: str | None = None
    emulator_threads_policy: str = rs.EMULATOR_SHARE
    realtime_vcpus: frozenset = frozenset()

    @property
    def pinned(self):
        return self.policy in (rs.CPU_DEDICATED, rs.CPU_MIXED)


def parse_cpu(sources, vcpus, errors):
    """Resolve the CPU settings of a request with ``vcpus`` vCPUs (None if invalid)."""
    policy = _cpu_policy(sources, errors)
    thread_policy = _thread_policy(sources, errors)
    emulator = _emulator_policy(sources, errors)
    _check_realtime_mask_needs_realtime(sources, errors)
    if policy in (None, rs.CPU_SHARED):
        _check_shared(sources, policy or rs.CPU_SHARED, thread_policy, emulator, errors)
        return CpuNeeds(emulator_threads_policy=emulator or rs.EMULATOR_SHARE)
    realtime = _realtime_vcpus(sources, vcpus, emulator, errors)
    mask = _dedicated_mask(sources, vcpus, errors)
    thread_policy = thread_policy or rs.THREAD_PREFER
    emulator = emulator or rs.EMULATOR_SHARE
    if policy == rs.CPU_DEDICATED:
        if sources.flavor('hw:cpu_dedicated_mask') is not None:
            errors.add(src.flavor_field('hw:cpu_dedicated_mask'),
                       'only valid with hw:cpu_policy=mixed, the policy is dedicated')
        dedicated = frozenset(range(vcpus)) if vcpus else frozenset()
        return CpuNeeds(policy, dedicated, thread_policy, emulator, realtime or frozenset())
    dedicated = _mixed_dedicated(sources, vcpus, mask, realtime, errors)
    return CpuNeeds(policy, dedicated, thread_policy, emulator, realtime or frozenset())


def _cpu_policy(sources, errors):
    flavor = src.flavor_choice(sources, 'hw:cpu_policy', CPU_POLICIES, errors)
    image = src.image_choice(sources, 'hw_cpu_policy', CPU_POLICIES, errors)
    refused = {rs.CPU_MIXED: (rs.CPU_DEDICATED,),
               rs.CPU_SHARED: (rs.CPU_DEDICATED, rs.CPU_MIXED)}.get(flavor, ())
    if image in refused:
        errors.add(src.image_field('hw_cpu_policy'),
                   f'{image!r} is not allowed: the flavor sets hw:cpu_policy={flavor}')
        return None
    return flavor or image


def _thread_policy(sources, errors):
    flavor = src.flavor_choice(sources, 'hw:cpu_thread_policy', THREAD_POLICIES, errors)
    image = src.image_choice(sources, 'hw_cpu_thread_policy', THREAD_POLICIES, errors)
    if flavor in (None, rs.THREAD_PREFER):
        policy = flavor or image
    elif image is not None and image != flavor:
        errors.add(src.image_field('hw_cpu_thread_policy'),
                   f'{image!r} is not allowed: the flavor sets hw:cpu_thread_policy={flavor}')
        return None
    else:
        policy = flavor
    trait = sources.flavor(HYPERTHREADING_TRAIT)
    if trait in _TRAIT_THREAD_POLICY:
        if policy is not None:
            errors.add(src.flavor_field(HYPERTHREADING_TRAIT),
                       f'{trait!r} cannot be combined with a CPU thread policy '
                       f'({policy!r} is set); use one or the other')
            return None
        policy = _TRAIT_THREAD_POLICY[trait]
    return policy


def _emulator_policy(sources, errors):
    flavor = src.flavor_choice(sources, 'hw:emulator_threads_policy', EMULATOR_POLICIES, errors)
    image = src.image_choice(sources, 'hw_emulator_threads_policy', EMULATOR_POLICIES, errors)
    return src.unique('hw:emulator_threads_policy', flavor, 'hw_emulator_threads_policy',
                      image, errors)


def _check_shared(sources, policy, thread_policy, emulator, errors):
    """Settings that only make sense for pinned guests are errors on a shared one."""
    why = f'needs hw:cpu_policy=dedicated or mixed, the policy is {policy}'
    if thread_policy is not None:
        errors.add(src.flavor_field('hw:cpu_thread_policy'), f'{thread_policy!r} {why}')
    if emulator == rs.EMULATOR_ISOLATE:
        errors.add(src.flavor_field('hw:emulator_threads_policy'), f"'isolate' {why}")
    if sources.flavor('hw:cpu_dedicated_mask') is not None:
        errors.add(src.flavor_field('hw:cpu_dedicated_mask'),
                   f'only valid with hw:cpu_policy=mixed, the policy is {policy}')
    if src.flavor_bool(sources, 'hw:cpu_realtime', errors):
        errors.add(src.flavor_field('hw:cpu_realtime'), f'realtime {why}')


def _check_realtime_mask_needs_realtime(sources, errors):
    """A flavor realtime mask with realtime off is a mistake (Nova ignores it)."""
    mask, enabled = sources.flavor('hw:cpu_realtime_mask'), sources.flavor('hw:cpu_realtime')
    if mask is not None and (enabled is None or enabled.lower() in src.FALSE_WORDS):
        errors.add(src.flavor_field('hw:cpu_realtime_mask'),
                   f'{mask!r} has no effect without hw:cpu_realtime=true')


def parse_vcpu_mask(text, vcpus, field, errors, max_vcpu_id=DEFAULT.max_vcpu_id):
    """A vCPU mask: ``2-3`` lists vCPUs, ``^0-1`` means all but those (None if invalid).

    Ids above ``max_vcpu_id`` are refused before any range is expanded.
    """
    spec = f'0-{vcpus - 1},{text}' if text.startswith('^') else text
    try:
        cpus = parse_cpuset(spec, max(max_vcpu_id, vcpus - 1))
    except CpuSetError as exc:
        errors.add(field, f'{text!r}: {exc}')
        return None
    outside = sorted(c for c in cpus if c >= vcpus)
    if outside:
        errors.add(field, f'{text!r} names vCPU(s) {outside} but the guest has {vcpus} '
                          f'vCPUs (0-{vcpus - 1})')
        return None
    return cpus


def _dedicated_mask(sources, vcpus, errors):
    text = sources.flavor('hw:cpu_dedicated_mask')
    if text is None or not vcpus:
        return None
    return parse_vcpu_mask(text, vcpus, src.flavor_field('hw:cpu_dedicated_mask'), errors,
                           sources.limits.max_vcpu_id)


def _realtime_vcpus(sources, vcpus, emulator, errors):
    """Realtime vCPUs (None when realtime is off or invalid).

    As in Nova, an image mask is used ahead of a flavor mask; with no mask
    every vCPU is realtime, which needs an emulator threads policy so the
    emulator has somewhere to run.
    """
    enabled = src.flavor_bool(sources, 'hw:cpu_realtime', errors)
    if not enabled or not vcpus:
        return None
    flavor_mask = sources.flavor('hw:cpu_realtime_mask')
    image_mask = sources.image('hw_cpu_realtime_mask')
    if image_mask is not None:
        field, mask = src.image_field('hw_cpu_realtime_mask'), image_mask
    else:
        field, mask = src.flavor_field('hw:cpu_realtime_mask'), flavor_mask
    realtime = (frozenset(range(vcpus)) if mask is None
                else parse_vcpu_mask(mask, vcpus, field, errors, sources.limits.max_vcpu_id))
    if realtime is None:
        return None
    if not realtime:
        errors.add(field, f'{mask!r} leaves no realtime vCPU')
        return None
    if len(realtime) == vcpus and emulator is None:
        errors.add(field if mask is not None else src.flavor_field('hw:cpu_realtime'),
                   f'every one of the {vcpus} vCPUs would be realtime: leave at least one '
                   'non-realtime vCPU (e.g. hw:cpu_realtime_mask=^0) or set '
                   'hw:emulator_threads_policy')
        return None
    return realtime


def _mixed_dedicated(sources, vcpus, mask, realtime, errors):
    """The dedicated vCPUs of a mixed guest: the dedicated mask, else the realtime set."""
    field = src.flavor_field('hw:cpu_dedicated_mask')
    if mask is not None and realtime:
        errors.add(field, 'set either hw:cpu_dedicated_mask or hw:cpu_realtime_mask for a '
                          'mixed guest, not both')
        return frozenset()
    dedicated = mask if mask is not None else realtime
    if dedicated is None:
        if vcpus and sources.flavor('hw:cpu_dedicated_mask') is None and not _rt_on(sources):
            errors.add(field, 'is required with hw:cpu_policy=mixed (or use hw:cpu_realtime '
                              'with hw:cpu_realtime_mask)')
        return frozenset()
    if not dedicated or len(dedicated) == vcpus:
        if mask is None:
            field = src.flavor_field('hw:cpu_realtime_mask')
        errors.add(field, f'a mixed guest needs at least one dedicated and one shared vCPU; '
                          f'{len(dedicated)} of {vcpus} vCPUs are dedicated')
        return frozenset()
    return frozenset(dedicated)


def _rt_on(sources):
    return (sources.flavor('hw:cpu_realtime') or '').lower() in src.TRUE_WORDS


def check_cpu_topology(sources, vcpus, numa_cells, errors):
    """The guest CPU topology keys can be met (``wire.guest_cpu``; the agent builds the same)."""
    if isinstance(vcpus, bool) or not isinstance(vcpus, int):
        return     # vcpus itself is reported
    try:
        guest_cpu_topology(vcpus, tuple(len(cell.vcpus) for cell in numa_cells),
                           sources.extra_specs, sources.image_properties)
    except InvalidInput as exc:
        errors.extend(exc.errors)
