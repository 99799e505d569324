"""Errors raised by the agent.

Every libvirt failure reaches the rest of the agent as ``LibvirtError``
naming the operation that failed, so callers never import ``libvirt`` to
catch its exception type.
"""


class AgentError(Exception):
    """Base class of the agent's own errors."""


class LibvirtError(AgentError):
    """A libvirt call failed; ``operation`` says which one, ``code`` is libvirt's."""

    def __init__(self, operation, detail, code=None):
        super().__init__(f"libvirt {operation} failed: {detail}")
        self.operation = operation
        self.detail = detail
        self.code = code


class HostXmlError(AgentError):
    """libvirt returned XML the agent cannot read; ``source`` names the document."""

    def __init__(self, source, rule):
        super().__init__(f"{source}: {rule}")
        self.source = source
        self.rule = rule


class InvalidConfig(AgentError):
    """An option contradicts itself or the host; ``option`` is '[group] name'."""

    def __init__(self, option, rule):
        super().__init__(f"{option}: {rule}")
        self.option = option
        self.rule = rule
