"""kvmfleet's read-only web dashboard and its HTML renderer.

The renderer (``html``, ``fleet``, ``cells``, ``pages``) turns the scheduler's RPC
answers (plain dicts: ``hosts``, ``host_detail``, ``list``, ``show``, ``explain``)
into server-rendered HTML with inline SVG; ``kvmfleet hosts --fleet F --format html``
uses the same renderer offline.  ``app`` and ``service`` serve it over HTTP, reading
the scheduler only through wire.scheduler_rpcapi.
"""
