"""The placement engine: the pipeline, its host state, its index and explanations.

``pipeline`` builds the whole decision (read ``build_engine``); ``fleet`` is
the warm per-host state it reads, ``index`` and ``shapes``/``shape_index``
keep a decision from scanning the fleet, ``fit`` is its one seam to the
fitting core, ``explain`` and ``capacity`` answer through the same
evaluation path, and ``opts`` turns configuration into ``EngineSettings``.
"""

from scheduler.engine.pipeline import (
    DEFAULT_FILTERS,
    DEFAULT_MULTIPLIERS,
    FILTER_GROUP,
    WEIGHER_GROUP,
    Engine,
    EngineSettings,
    Placement,
    RequestContext,
    build_engine,
    load_plugin,
)

__all__ = ['DEFAULT_FILTERS', 'DEFAULT_MULTIPLIERS', 'FILTER_GROUP', 'WEIGHER_GROUP', 'Engine',
           'EngineSettings', 'Placement', 'RequestContext', 'build_engine', 'load_plugin']
