"""Requests -> validated RequestSpec, with Nova's flavor extra-spec semantics.

Public API:

* ``parse_request(raw, aliases=None, flavors=None) -> RequestSpec``
* ``parse_aliases(values) -> {name: Alias}``
* ``load_flavors(path) -> FlavorCatalog`` (in ``scheduler.specs.flavors``)

Every broken rule of a request is collected and raised at once as
``wire.errors.InvalidInput``; docs/flavors.md lists the keys and rules.
"""

from scheduler.specs.aliases import Alias, parse_aliases
from scheduler.specs.request import parse_request

__all__ = ['Alias', 'parse_aliases', 'parse_request']
