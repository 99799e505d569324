"""The metric reference and the Grafana dashboard agree with the code: every metric the
dashboard queries is exported by a service's registry, and every exported metric is listed
in docs/metrics.md with its type and labels."""

import json
import pathlib
import re
import threading
import types

import pytest

from agent.metrics import AgentMetrics
from scheduler.engine.fleet import FleetView
from scheduler.metrics import SchedulerMetrics
from tests import busfleet
from wire.topology import HostTopology

REPO = pathlib.Path(__file__).resolve().parents[2]
DOCS = (REPO / 'docs' / 'metrics.md').read_text()
DASHBOARD = json.loads((REPO / 'etc' / 'grafana' / 'kvmfleet.json').read_text())
SUFFIXES = {'counter': ('_total',), 'histogram': ('_bucket', '_sum', '_count'), 'gauge': ('',)}


def families():
    """{exposed name: (type, label names)} of every metric both services register."""
    topology = HostTopology.from_dict(dict(busfleet.host('h'), aggregates={'a': {}}))
    state = types.SimpleNamespace(fleet=FleetView([topology]), up={'h': True},
                                  enabled={'h': True})
    scheduler = SchedulerMetrics()
    scheduler.watch(types.SimpleNamespace(lock=threading.RLock(), state=state))
    agent = AgentMetrics()
    found = {}
    for registry in (scheduler.registry, agent.registry):
        for family in registry.collect():
            name = family.name + ('_total' if family.type == 'counter' else '')
            found[name] = (family.type, labels_of(registry, family))
    return found


def labels_of(registry, family):
    """Label names of a family: from its samples, or the collector's declared names."""
    labels = {k for sample in family.samples for k in sample.labels if k != 'le'}
    for collector in registry._collector_to_names:      # prometheus_client keeps no
        if getattr(collector, '_name', None) == family.name:   # public map of these
            labels |= set(collector._labelnames)
    return labels


FAMILIES = families()


def documented_rows():
    """{name: (type, label names)} of the tables of docs/metrics.md."""
    rows = {}
    for match in re.finditer(r'^\| `(kvmfleet_[a-z_]+)` \| (\w+) \|([^|]*)\|', DOCS, re.M):
        rows[match.group(1)] = (match.group(2), set(re.findall(r'`(\w+)`', match.group(3))))
    return rows


@pytest.mark.parametrize('name', sorted(FAMILIES))
def test_every_exported_metric_is_documented_with_its_type_and_labels(name):
    assert documented_rows().get(name) == FAMILIES[name]


def test_the_docs_list_no_metric_the_code_does_not_export():
    assert set(documented_rows()) <= set(FAMILIES)


def dashboard_expressions(panels):
    for panel in panels:
        yield from (target['expr'] for target in panel.get('targets', []))
        yield from dashboard_expressions(panel.get('panels', []))


def exported_series_names():
    names = set()
    for name, (kind, _) in FAMILIES.items():
        base = name[:-len('_total')] if kind == 'counter' else name
        names.update(base + suffix for suffix in SUFFIXES[kind])
    return names


def test_every_metric_the_dashboard_queries_is_exported():
    used = {name for expr in dashboard_expressions(DASHBOARD['panels'])
            for name in re.findall(r'\bkvmfleet_[a-z_]+', expr)}
    assert used, 'the dashboard queries no kvmfleet metric'
    assert used - exported_series_names() == set()


def test_the_dashboard_shows_every_exported_metric():
    text = ' '.join(dashboard_expressions(DASHBOARD['panels']))
    missing = [name for name, (kind, _) in FAMILIES.items()
               if not any(name.removesuffix('_total') + suffix in text
                          for suffix in SUFFIXES[kind])]
    assert missing == []
