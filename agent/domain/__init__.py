"""Domain XML for one instance, built from what the scheduler decided.

Public entry points: ``domain_xml``/``build_domain`` (builder), ``parse_metadata``
(read an instance back from a domain), ``DomainSettings`` and ``DomainBuildError``.
"""

from agent.domain.builder import build_domain, domain_name, domain_xml, instance_uuid
from agent.domain.metadata import MetadataError, has_metadata, parse_metadata, read_metadata
from agent.domain.settings import DomainBuildError, DomainSettings

__all__ = ['build_domain', 'domain_name', 'domain_xml', 'instance_uuid', 'MetadataError',
           'has_metadata', 'parse_metadata', 'read_metadata', 'DomainBuildError', 'DomainSettings']
