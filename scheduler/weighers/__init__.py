"""Host weighers: one small plugin per file, loaded by entry point name.

Entry point group ``kvmfleet.scheduler.weighers`` (setup.cfg).  A weigher
returns a raw number; the engine normalises it across the candidates and
multiplies it by the operator's multiplier (see scheduler/engine.py).
"""
