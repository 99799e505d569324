"""The placement engine: one constructor builds the whole decision.

Read ``build_engine`` to see the pipeline; per instance of a request it is

1. static filters (enabled, traits, aggregates, secure boot), cached per
   request shape until a topology changes;
2. necessary conditions on the host totals of each HostSummary, in
   one bulk pass that also ranks them by a cheap linear pre-weight
   (``engine.index``);
3. best estimate first: the dynamic filters, cheapest first (the resource
   filters share one O(1) quick reject on the fit helper's HostSummary),
   then the exact fit, until ``fit_candidates`` hosts fit (hosts the soft
   affinity weigher prefers are always fitted too; hosts the soft
   anti-affinity weigher avoids do not count);
4. the weighers on those fitted hosts: raw values normalised to 0..1 across
   them, times each multiplier, summed; the best wins (or a random one of
   the best ``host_subset_size``), the next ``max_alternates`` are kept for
   reschedules.

With ``shuffle_best_same_weighed_hosts`` (Nova's option, on by default here)
hosts of equal weight are taken in random order: the walk of step 3 meets
equal estimates in an order of this engine's own (``index.tie_order`` with a
salt drawn at start), and step 4 picks at random among the fitted hosts of
the best weight.  Without it, the first by name wins a tie: every scheduler
sharing a store prefers the same host among equals (the races for the one best
host are what decisions in turn close: scheduler/store/turns.py).

Fitting only the top ``fit_candidates`` by estimate is what keeps a decision
fast on 10,000 hosts; the final order among them uses the real weighers.
A request of ``count`` instances is placed on a ScratchFleet so no two
instances share a resource; fewer than ``min_count`` placed means none is.
"""

import dataclasses
import heapq
import random
import threading
from importlib import metadata

from scheduler.engine import fit as engine_fit
from scheduler.engine import shapes as engine_shapes
from scheduler.engine.explain import explain_request
from scheduler.engine.fleet import ScratchFleet
from scheduler.engine.index import OrderIndex, StaticIndex, estimate_coefficients, tie_order
from scheduler.engine.shapes import WALK_SHAPES_AFTER
from scheduler.filters.base import SummaryFilter
from scheduler.filters.server_group import AffinityFilter, AntiAffinityFilter
from scheduler.weighers.base import normalise
from wire.assignment import Assignment

FILTER_GROUP = 'kvmfleet.scheduler.filters'
WEIGHER_GROUP = 'kvmfleet.scheduler.weighers'
DEFAULT_FILTERS = ('enabled', 'secure_boot', 'image', 'traits', 'aggregate_extra_specs', 'sev',
                   'ram', 'vcpu', 'pci', 'numa', 'server_group_affinity',
                   'server_group_anti_affinity')
# Dynamic filters whose verdict reads only the host's members of the request's group.
MEMBER_FILTERS = (AffinityFilter, AntiAffinityFilter)
DEFAULT_MULTIPLIERS = {'ram': 1.0, 'cpu': 1.0, 'numa_fragmentation': 1.0,
                       'pci_preserving': 1.0, 'hugepage_preserving': 1.0,
                       'server_group_soft': 1.0}


@dataclasses.dataclass(frozen=True)
class EngineSettings:
    """Everything that shapes a decision (built from config by ``settings_from_conf``)."""

    enabled_filters: tuple = DEFAULT_FILTERS
    weigher_multipliers: dict = dataclasses.field(
        default_factory=lambda: dict(DEFAULT_MULTIPLIERS))
    cpu_allocation_ratio: float = 4.0
    ram_allocation_ratio: float = 1.0
    host_subset_size: int = 1
    max_alternates: int = 2
    fit_candidates: int = 8
    seed: int | None = None
    large_page_order: str = 'largest'
    shuffle_best_same_weighed_hosts: bool = True

    def fit_policy(self):
        return engine_fit.FitPolicy(cpu_allocation_ratio=self.cpu_allocation_ratio,
                                    ram_allocation_ratio=self.ram_allocation_ratio,
                                    large_page_order=self.large_page_order)


@dataclasses.dataclass
class Placement:
    """The outcome of one request: every instance placed, or none (with why)."""

    assignments: list
    alternates: dict
    explanation: object = None

    @property
    def placed(self):
        return bool(self.assignments)


@dataclasses.dataclass
class RequestContext:
    """What is derived once per request and shared by its instances."""

    spec: object
    needs: object          # the fitting core's RequestNeeds
    fleet: object          # the ScratchFleet of this request
    necessary: object = None   # HostSummary -> bool (fitting.necessary.necessary_check)


def load_plugin(group, name, policy):
    """Instantiate the entry point ``name`` of ``group``; unknown names are an error."""
    found = [e for e in metadata.entry_points(group=group) if e.name == name]
    if not found:
        known = sorted(e.name for e in metadata.entry_points(group=group))
        raise ValueError(f"{group}: no plugin named {name!r} (known: {', '.join(known)})")
    plugin = found[0].load()()
    plugin.policy = policy
    return plugin


def load_weighers(multipliers, policy):
    """(weigher, multiplier) of every weigher whose multiplier is not 0."""
    return [(load_plugin(WEIGHER_GROUP, name, policy), float(multiplier))
            for name, multiplier in multipliers.items() if multiplier]


def build_engine(settings=None):
    """The whole pipeline: filters cheapest first, then the exact fit, then weighers."""
    settings = settings or EngineSettings()
    policy = settings.fit_policy()
    filters = [load_plugin(FILTER_GROUP, name, policy) for name in settings.enabled_filters]
    filters.sort(key=lambda plugin: plugin.cost)          # stable: config order breaks ties
    weighers = load_weighers(settings.weigher_multipliers, policy)
    return Engine(filters, weighers, engine_fit.exact_fit, policy, settings)


class Engine:
    """Places requests on a FleetView without changing it (the caller applies).

    Decisions are serialised by a lock (the engine's caches are shared); the
    FleetView must not change during a decision: callers apply placements
    and host reports between decisions, not concurrently with them.
    """

    def __init__(self, filters, weighers, fit, policy, settings):
        self.filters = tuple(filters)
        self.weighers = tuple(weighers)
        self.fit = fit
        self.policy = policy
        self.settings = settings
        self.fit_candidates = max(settings.fit_candidates,
                                  settings.host_subset_size + settings.max_alternates)
        self._static = StaticIndex()
        self._orders = OrderIndex()
        self._random = random.Random(settings.seed)
        self._salt = (self._random.getrandbits(32) if settings.shuffle_best_same_weighed_hosts
                      else None)
        self.walk_shapes_after = WALK_SHAPES_AFTER
        self._lock = threading.RLock()

    def set_weigher_multipliers(self, multipliers):
        """New multipliers (a reload): weighers swapped between two decisions.

        Safe at run time: weighers keep no state between decisions, and the
        estimate order cache is keyed by the coefficients they produce.
        """
        weighers = tuple(load_weighers(multipliers, self.policy))
        with self._lock:
            self.weighers = weighers
            self.settings = dataclasses.replace(self.settings,
                                                weigher_multipliers=dict(multipliers))

    def place(self, spec, fleet, instances):
        """Place ``instances`` (ids) of ``spec``: all, or down to min_count, or none."""
        with self._lock:
            return self._place(spec, fleet, instances)

    def _place(self, spec, fleet, instances):
        scratch = _scratch_of(fleet)
        context = self.context(spec, scratch)
        group = spec.server_group.name if spec.server_group else None
        assignments, alternates, fits = [], {}, {}
        for instance in instances:
            chosen = self._place_one(context, instance, fits)
            if chosen is None:
                break
            assignment, others = chosen
            assignments.append(assignment)
            alternates[instance] = others
            scratch.consume(assignment, group)
        minimum = min(spec.min_count, len(instances))
        if len(assignments) < max(minimum, 1 if instances else 0):
            explanation = self.explain_failure(context, len(assignments), minimum, fits,
                                               count=len(instances))
            return Placement([], {}, explanation)
        return Placement(assignments, alternates)

    def explain(self, spec, fleet):
        """Dry run: why each host would or would not take one instance of ``spec``."""
        with self._lock:
            context = self.context(spec, _scratch_of(fleet))
            return self.explain_failure(context, 0, 1)

    def evaluate(self, spec, fleet, name, instance):
        """The verdict on host ``name`` as ``fleet`` holds it now, for one instance of ``spec``.

        The decision's own path on that one host: every filter that applies
        (static and dynamic, so server groups, traits, aggregates and a host
        disabled meanwhile count), then the exact fit.  An Assignment, or the
        first Rejection.  What a build retried on an alternate host asks.
        """
        with self._lock:
            context = self.context(spec, _scratch_of(fleet))
            return self.verdict(context.fleet.state(name), self.all_checks(context), context,
                                instance)

    def explain_failure(self, context, instance_index, min_count, fits=None, count=1):
        """The Explanation of instance ``instance_index`` (of ``count``) finding no host."""
        return explain_request(self, context, instance_index=instance_index,
                               min_count=min_count, fits=fits, count=count)

    def context(self, spec, scratch):
        """What the request's instances share: its needs, derived once."""
        needs = engine_fit.needs_of(spec, self.policy)
        return RequestContext(spec, needs, scratch, engine_fit.necessary_check(needs))

    # -- one instance -------------------------------------------------------

    def _place_one(self, context, instance, fits):
        """Fit the best-estimated hosts until ``fit_candidates`` fit, then weigh them."""
        scratch, spec = context.fleet, context.spec
        static_checks = self.static_checks(context)
        passing, scales = self._static.candidates(scratch.fleet, static_checks)
        weighers = self._weighers_for(spec)
        coefficients = estimate_coefficients(weighers, spec, scales)
        checks = self.dynamic_checks(context)
        fitted, tried = [], set()
        # Hosts this request already used, and hosts a weigher insists on, are fitted
        # whatever their (stale or low) estimate; the weighers then judge them fairly.
        static = [check for _, check in static_checks]
        for name in sorted(scratch.changed) + self._preferred(context, weighers):
            self._try(scratch.state(name), static + checks, context, instance, fits, fitted,
                      tried)
        avoided = self._avoided(context, weighers)
        hosts, counted = scratch.fleet.hosts(), 0
        order = self._orders.order(scratch.fleet, coefficients, self._salt)
        for position in self._walk(context, order, passing, checks, instance, fits):
            if passing is None or position in passing:
                before = len(fitted)
                self._try(hosts[position], checks, context, instance, fits, fitted, tried)
                if len(fitted) > before and hosts[position].name not in avoided:
                    counted += 1
                    if counted >= self.fit_candidates:
                        break
        return self._choose(spec, fitted, weighers) if fitted else None

    def _walk(self, context, order, passing, checks, instance, fits):
        """Positions to try, best estimate first.

        Past the first ``walk_shapes_after`` hosts (a request that fits few hosts), the
        walk judges one host per shape and goes on with only the hosts whose shape
        may still fit: the same hosts fit, in the same order, without visiting the
        fleet one host at a time (engine.shapes).
        """
        entries = order.entries
        after = self.walk_shapes_after
        shaped = len(entries) > after and self.follows_shape(context.spec)
        for index, (*_, position) in enumerate(entries):
            if shaped and index == after:
                yield from self._rest_of_walk(context, order, entries[index], passing, checks,
                                              instance, fits)
                return
            yield position

    def _rest_of_walk(self, context, order, first, passing, checks, instance, fits):
        fleet = context.fleet.fleet
        special = engine_shapes.individual_hosts(context)
        positions = [fleet.position(name) for name in special if name in fleet]
        for state, _, names in engine_shapes.shape_groups(context, special):
            position = fleet.position(state.name)
            if (passing is not None and position not in passing
                    or not context.necessary(state.summary)
                    or not isinstance(self.verdict(state, checks, context, instance, fits),
                                      Assignment)):
                continue
            positions.extend(fleet.position(name) for name in names if name not in special)
        keys = order.keys
        waiting = [keys[p] for p in positions if keys[p] >= first]
        heapq.heapify(waiting)      # popped lazily: the walk often stops after a few
        while waiting:
            yield heapq.heappop(waiting)[-1]

    def _try(self, state, checks, context, instance, fits, fitted, tried):
        """Necessary check, filters, exact fit; a fitting host joins ``fitted``."""
        if state.name in tried:
            return
        tried.add(state.name)
        if not context.necessary(state.summary):
            return
        verdict = self.verdict(state, checks, context, instance, fits)
        if isinstance(verdict, Assignment):
            fitted.append((state, verdict))

    def verdict(self, state, checks, context, instance, fits=None):
        """The first Rejection of ``checks`` or of the exact fit, else the Assignment."""
        rejection = first_rejection(checks, state)
        if rejection is not None:
            return rejection
        cached = fits.get(state.name) if fits is not None else None
        if cached is not None and cached[0] is state:
            result = cached[1]
            if isinstance(result, Assignment):
                return dataclasses.replace(result, instance=instance)
            return result
        result = self.fit(state.topology, state.usage, context.spec, self.policy, instance)
        if not isinstance(result, Assignment) and result.host is None:
            result = result.on_host(state.name)
        if fits is not None:
            fits[state.name] = (state, result)
        return result

    def _choose(self, spec, fitted, weighers):
        totals = [0.0] * len(fitted)
        for weigher, multiplier in weighers:
            raws = [weigher.weigh(state, spec, assignment) for state, assignment in fitted]
            for i, weight in enumerate(normalise(raws)):
                totals[i] += multiplier * weight
        order = sorted(range(len(fitted)), key=lambda i: (
            -totals[i], tie_order(fitted[i][0].name, self._salt), fitted[i][0].name))
        if self._salt is not None:       # the best-weighed hosts in random order
            best = sum(1 for i in order if totals[i] == totals[order[0]])
            head = order[:best]
            self._random.shuffle(head)
            order[:best] = head
        subset = order[:max(1, self.settings.host_subset_size)]
        chosen = subset[0] if len(subset) == 1 else self._random.choice(subset)
        others = [fitted[i][0].name for i in order if i != chosen]
        return fitted[chosen][1], others[:self.settings.max_alternates]

    # -- checks -----------------------------------------------------------------

    def static_checks(self, context):
        """(cache key, check) of the static filters that apply to the request."""
        spec = context.spec
        return tuple(((f.name, f.static_key(spec)), f.prepare(spec, context))
                     for f in self.filters if f.static and f.applies(spec))

    def all_checks(self, context):
        """The static filters' checks, then the dynamic ones: every filter, in the
        engine's order (the exact fit comes after them, in ``verdict``)."""
        return [check for _, check in self.static_checks(context)] + self.dynamic_checks(context)

    def dynamic_checks(self, context, summaries=True):
        """Checks of the dynamic filters, cheapest first; summary filters share one call.

        ``summaries=False`` leaves the summary prechecks out, for callers that
        run the exact fit on every host anyway (capacity).
        """
        spec, checks, summary_reasons = context.spec, [], set()
        for plugin in self.filters:
            if plugin.static or not plugin.applies(spec):
                continue
            if isinstance(plugin, SummaryFilter):
                if not summaries:
                    continue
                if not summary_reasons:
                    checks.append(_summary_check(context.needs, summary_reasons))
                summary_reasons.update(plugin.reasons)
            else:
                checks.append(plugin.prepare(spec, context))
        return checks

    def follows_shape(self, spec):
        """True when only a host's shape and its members of the request's group decide.

        So alike hosts get one verdict (scheduler/engine/shape_index.py): the exact fit is the
        fitting core's, and every dynamic filter that applies is a resource precheck or
        a member filter (static filters read only STATIC_FIELDS, part of the shape).
        """
        if self.fit is not engine_fit.exact_fit:
            return False
        return all(plugin.static or isinstance(plugin, SummaryFilter) or not plugin.applies(spec)
                   or type(plugin) in MEMBER_FILTERS for plugin in self.filters)

    def _weighers_for(self, spec):
        return [(w, m) for w, m in self.weighers if w.applies(spec)]

    def _avoided(self, context, weighers):
        names = set()
        for weigher, _ in weighers:
            names.update(weigher.avoided_hosts(context.spec, context.fleet))
        return names

    def _preferred(self, context, weighers):
        names = set()
        for weigher, _ in weighers:
            names.update(weigher.preferred_hosts(context.spec, context.fleet))
        return sorted(names - set(context.fleet.changed))


def first_rejection(checks, state):
    """The first Rejection any of ``checks`` gives ``state``, or None."""
    for check in checks:
        rejection = check(state)
        if rejection is not None:
            return rejection
    return None


def _scratch_of(fleet):
    """A private ScratchFleet over a FleetView, or a copy of a ScratchFleet."""
    return fleet.copy() if isinstance(fleet, ScratchFleet) else fleet.scratch()


def _summary_check(needs, reasons):
    """One quick reject per host for every enabled resource filter."""
    def check(state):
        rejection = engine_fit.quick_reject(needs, state.summary)
        if rejection is None or rejection.reason not in reasons:
            return None
        return rejection if rejection.host == state.name else rejection.on_host(state.name)
    return check
