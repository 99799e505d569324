"""Small helpers for the engine, filter and weigher tests (hosts from the fit builders)."""

import dataclasses

from scheduler.engine import EngineSettings, build_engine
from scheduler.engine.fleet import FleetView
from tests.unit.scheduler.fitting.builders import host, request

__all__ = ['engine', 'fleet_of', 'host', 'replace', 'request', 'state_of', 'two_socket']


def two_socket(name, vfs=0, pages=None, **fields):
    """2 cells x 4 dedicated cores x 2 threads + 1 shared core, 16 GiB per cell."""
    builder = host(name).cells(2, cores=4, threads=2, shared_cores=1)
    if pages:
        builder.pages(pages)
    if vfs:
        builder.pf(f'0000:{len(name) % 90 + 10}:00.0', numa_node=0, vfs=vfs)
    return replace(builder.build(), **fields)


def replace(topology, **fields):
    """The topology with some top-level fields changed (traits, aggregates, ...)."""
    return dataclasses.replace(topology, **fields) if fields else topology


def fleet_of(*hosts):
    return FleetView(hosts)


def state_of(topology):
    return FleetView([topology]).state(topology.name)


def engine(**settings):
    return build_engine(EngineSettings(**settings))
