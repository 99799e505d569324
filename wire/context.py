"""The request context that travels with every RPC call and cast.

A request id (``req-<uuid>``) is made where a request starts (the
``kvmfleet`` CLI, or the scheduler when a caller sent none) and follows the
request: the client serializer puts the thread's current oslo.context
RequestContext id into the message context, the server serializer checks it
and makes it the current context of the thread that runs the endpoint, so
oslo.log's ContextFormatter writes ``[... req-...]`` on every line logged for
that request, and casts sent from there (scheduler -> agent) carry it on.

The message context is untrusted: a request id that is not ``req-<uuid>`` is
replaced by a fresh one and never logged.  Endpoints keep receiving the
context as a dict (``WireContext``: the message's keys, such as the routing
``host``, with the checked ``request_id``); its ``request`` attribute is the
RequestContext.  The first top-level argument that is a canonical uuid is
taken as the instance concerned (``[instance: <uuid>]`` in the log lines).
"""

import logging
import re

import oslo_messaging as messaging
from oslo_context import context as oslo_context

LOG = logging.getLogger(__name__)

REQUEST_ID_KEY = 'request_id'
_UUID = r'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'
REQUEST_ID = re.compile(rf'^req-{_UUID}\Z')
INSTANCE_UUID = re.compile(rf'^{_UUID}\Z')


def valid_request_id(value):
    """True when ``value`` is a well-formed request id (``req-<uuid>``, lower case)."""
    return isinstance(value, str) and REQUEST_ID.match(value) is not None


def start_request(request_id=None):
    """A new RequestContext, made the current one of this thread; ``request_id`` if valid."""
    if not valid_request_id(request_id):
        request_id = oslo_context.generate_request_id()
    return oslo_context.RequestContext(request_id=request_id, overwrite=True)


def current_request_id():
    """The request id of this thread's current context, or None."""
    current = oslo_context.get_current()
    request_id = getattr(current, 'request_id', None)
    return request_id if valid_request_id(request_id) else None


class WireContext(dict):
    """The context an endpoint receives: the message's keys plus the checked request id."""

    request = None    # the RequestContext made current for this message


class RequestContextSerializer(messaging.NoOpSerializer):
    """Carries the request id from callers to endpoints (clients and servers use it)."""

    def serialize_context(self, ctxt):
        """The message context: ``ctxt``'s keys plus the current request id, if any."""
        if isinstance(ctxt, oslo_context.RequestContext):
            wire = {REQUEST_ID_KEY: ctxt.request_id}
        else:
            wire = dict(ctxt or {})
        if not valid_request_id(wire.get(REQUEST_ID_KEY)):
            wire.pop(REQUEST_ID_KEY, None)
            request_id = current_request_id()
            if request_id:
                wire[REQUEST_ID_KEY] = request_id
        return wire

    def deserialize_context(self, ctxt):
        """A WireContext whose request (checked or new) is this thread's current one."""
        wire = WireContext(ctxt if isinstance(ctxt, dict) else {})
        sent = wire.get(REQUEST_ID_KEY)
        request = start_request(sent)
        if sent is not None and sent != request.request_id:
            LOG.warning('Replaced a malformed request id (%s of %d characters)',
                        type(sent).__name__, len(sent) if isinstance(sent, str) else 0)
        wire[REQUEST_ID_KEY] = request.request_id
        wire.request = request
        return wire

    def deserialize_entity(self, ctxt, entity):
        """``entity`` unchanged; the first instance uuid among the arguments is noted."""
        request = getattr(ctxt, 'request', None)
        if (request is not None and request.resource_uuid is None
                and isinstance(entity, str) and INSTANCE_UUID.match(entity)):
            request.resource_uuid = entity
        return entity
