"""Pause the cyclic garbage collector while building many acyclic objects.

Decoding a large fleet file or request and parsing its hosts allocate millions
of containers and free none, so the collector runs again and again over
objects that are all alive: at 10,000 hosts that was two thirds of the time.
Nothing built there holds a reference cycle, so nothing is left to collect
later.  Pauses nest and may overlap between threads: the collector is enabled
again when the last one ends, if it was enabled when the first one began.
"""

import contextlib
import gc
import threading

_lock = threading.Lock()
_state = {'depth': 0, 'was_enabled': False}


@contextlib.contextmanager
def gc_paused():
    """Run the ``with`` body with automatic garbage collection off."""
    with _lock:
        if _state['depth'] == 0:
            _state['was_enabled'] = gc.isenabled()
            gc.disable()
        _state['depth'] += 1
    try:
        yield
    finally:
        with _lock:
            _state['depth'] -= 1
            if _state['depth'] == 0 and _state['was_enabled']:
                gc.enable()
