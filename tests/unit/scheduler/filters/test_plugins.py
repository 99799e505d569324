"""Every filter named in setup.cfg loads by entry point and says what it is."""

from importlib import metadata

import pytest

from scheduler.engine import DEFAULT_FILTERS, FILTER_GROUP, load_plugin
from scheduler.filters.base import BaseFilter
from scheduler.fitting.policy import FitPolicy


@pytest.mark.parametrize('name', sorted(e.name for e in
                                        metadata.entry_points(group=FILTER_GROUP)))
def test_filter_entry_point_loads(name):
    plugin = load_plugin(FILTER_GROUP, name, FitPolicy())
    assert isinstance(plugin, BaseFilter)
    assert plugin.name == name


def test_default_filters_are_all_declared():
    declared = {e.name for e in metadata.entry_points(group=FILTER_GROUP)}
    assert set(DEFAULT_FILTERS) == declared


def test_unknown_filter_name_is_a_clear_error():
    with pytest.raises(ValueError, match="no plugin named 'nope'.*known: aggregate_extra_specs"):
        load_plugin(FILTER_GROUP, 'nope', FitPolicy())
