"""Host filters: one small plugin per file, loaded by entry point name.

Entry point group ``kvmfleet.scheduler.filters`` (setup.cfg).  Each filter
answers ``host_passes(host_state, spec) -> None | Rejection``.
"""
