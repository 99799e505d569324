"""Which free dedicated pCPUs of one host cell pinned vCPUs get, per thread policy.

* ``prefer`` (and no policy): fill cores whole, so a guest's consecutive
  vCPUs land on sibling threads; the last few vCPUs go to the core whose
  free threads fit them best, so cores are not needlessly broken.
* ``require``: only cores with more than one dedicated thread, all free;
  vCPUs on sibling threads.  A cell without SMT cannot serve it.  When the
  vCPU count is not a multiple of the core size the last core's unused
  threads stay free (as in Nova).
* ``isolate``: one vCPU per wholly free core; the core's other threads are
  returned as ``reserved`` (held, unused).  Nova refuses this on SMT hosts
  (bug 1889633); we do it.  Single-thread cores are used first since they
  waste nothing.  Without SMT it is plain pinning.

Functions here assume ``count <= capacity(...)``; the caller checks first
so it can say how much was missing.  ``room`` is the one rule of how much a
cell can pin: the exact fit applies it to a cell's pCPU sets (``counts``), the
quick reject to the counts its summary keeps.
"""

from scheduler.fitting import reasons
from wire.request_spec import THREAD_ISOLATE, THREAD_REQUIRE


def free_groups(cores, free):
    """Each core's free threads (cores with none left out)."""
    groups = []
    for core in cores.cores:
        threads = [t for t in core if t in free]
        if threads:
            groups.append(threads)
    return groups


def whole_free_cores(cores, free, min_threads=1):
    """Cores whose dedicated threads are all free."""
    return [core for core in cores.cores
            if len(core) >= min_threads and free.issuperset(core)]


def counts(cores, free):
    """(free pCPUs, wholly free cores, threads of wholly free multi-thread cores):
    what ``room`` reads of a cell."""
    whole = whole_free_cores(cores, free)
    return len(free), len(whole), sum(len(core) for core in whole if len(core) > 1)


def room(thread_policy, smt, free_pcpus, whole_cores, whole_smt_threads):
    """(the most vCPUs a cell can pin under ``thread_policy``, the reason and the unit
    of a shortfall), from the cell's ``counts``."""
    if thread_policy == THREAD_REQUIRE:
        return (whole_smt_threads if smt else 0,
                reasons.NUMA_CELL_NO_FREE_CORES, 'pCPUs in wholly free cores')
    if thread_policy == THREAD_ISOLATE and smt:
        return whole_cores, reasons.NUMA_CELL_NO_FREE_CORES, 'wholly free cores'
    return free_pcpus, reasons.NUMA_CELL_NO_FREE_PCPUS, 'free dedicated pCPUs'


def capacity(cores, free, thread_policy):
    """The most vCPUs the cell can pin under ``thread_policy``."""
    return room(thread_policy, cores.smt, *counts(cores, free))[0]


def pick(cores, free, count, thread_policy):
    """Return (pcpus in vCPU order, reserved sibling pCPUs) for ``count`` vCPUs."""
    if count == 0:
        return (), frozenset()
    if thread_policy == THREAD_REQUIRE:
        return _fill(whole_free_cores(cores, free, 2), count), frozenset()
    if thread_policy == THREAD_ISOLATE and cores.smt:
        chosen = sorted(whole_free_cores(cores, free), key=len)[:count]
        reserved = frozenset(t for core in chosen for t in core[1:])
        return tuple(core[0] for core in chosen), reserved
    return _pack(free_groups(cores, free), count), frozenset()


def _fill(groups, count):
    chosen = []
    for group in groups:
        chosen.extend(group[:count - len(chosen)])
        if len(chosen) == count:
            break
    return tuple(chosen)


def _pack(groups, count):
    """Whole cores while the rest is at least a core; then the best-fitting core."""
    chosen = []
    remaining = count
    while remaining:
        biggest = max(len(g) for g in groups)
        if remaining >= biggest:
            index = next(i for i, g in enumerate(groups) if len(g) == biggest)
        else:
            index = min((i for i, g in enumerate(groups) if len(g) >= remaining),
                        key=lambda i: len(groups[i]))
        group = groups.pop(index)
        chosen.extend(group[:remaining])
        remaining -= min(remaining, len(group))
    return tuple(chosen)


def emulator_capacity(cores, free, thread_policy):
    """1 if the cell can still give the emulator threads their own pCPU."""
    if thread_policy == THREAD_ISOLATE and cores.smt:
        return min(1, len(whole_free_cores(cores, free)))
    return min(1, len(free))


def pick_emulator(cores, free, thread_policy):
    """(emulator pCPU set, reserved siblings) — isolate takes a whole core."""
    policy = THREAD_ISOLATE if thread_policy == THREAD_ISOLATE else None
    pcpus, reserved = pick(cores, free, 1, policy)
    return frozenset(pcpus), reserved
