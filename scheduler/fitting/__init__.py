"""The pure fitting core: request + host + usage -> exact Assignment or named Rejection.

Entry points:

* ``fit.fit(host, usage, spec, policy, instance)`` - the exact, authoritative
  fit (CPU, memory and hugepages per cell, PCI devices and VFs, SEV slots);
* ``summary.HostSummary.of(host, usage)`` (per cell, and the host totals the
  engine's index and weighers read) and ``summary.RequestNeeds.of(spec,
  policy)`` with ``needs.quick_reject(summary)`` - cheap rejection before the
  fit that never rejects what the fit would accept; ``necessary.necessary_check
  (needs)`` - the index's cheaper predicate on the host totals alone (the one
  summary type and the one needs type of the scheduler);
* ``usage.HostUsage`` - what a host's instances hold, as a value;
* ``policy.FitPolicy`` and ``reasons`` (codes and ``Rejection``).

Semantics are Nova's (flavor extra specs with Nova's meaning), with these
intentional differences:

1. ``hw:cpu_thread_policy=isolate`` on SMT hosts pins one thread per core
   and holds the core's other threads (``CellAssignment.reserved_pcpus``);
   Nova refuses or miscounts it (bug 1889633).  With isolated emulator
   threads the emulator pCPU's siblings are held too.
2. Small-page guests take memory only from what the hugepage pools (and the
   host reserve) leave; Nova counts hugepage memory again for them.
3. Floating vCPUs of NUMA guests are counted per cell against the cell's
   shared pCPUs x ``cpu_allocation_ratio`` and host-wide against all shared
   pCPUs (so guests with and without NUMA topology never oversubscribe each
   other); guests without NUMA topology take small pages host-wide.
4. (Removed: ``hw:pci_numa_affinity_policy=socket`` now has Nova's
   meaning, cells carry their socket; see ``pci``.)
5. With ``hw:emulator_threads_policy=share`` the emulator threads run on the
   shared pCPUs of the guest's host cells (Nova: the whole ``cpu_shared_set``),
   or, without any there, on the guest's own pinned pCPUs.
6. ``require`` leaves the unused threads of a partly used last core free (as
   Nova does); a thread in the shared set is never a pinning sibling.
7. Host cells are chosen best-fit (cells with the needed PCI devices first,
   then the fewest free pCPUs, then the least free memory of the kind asked),
   so whole cells stay whole; Nova tries cells in id order.
"""
