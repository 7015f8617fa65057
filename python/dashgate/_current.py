"""The identity of the request being served, found wherever the server keeps that request.

Flask keeps it in ``flask.g``; on ASGI (Dash's FastAPI backend) the plugin's middleware keeps it
in a context variable for the whole HTTP request or WebSocket connection, which Dash copies into
the callbacks it runs for that connection. Each request's identity is worked out once.
"""

from __future__ import annotations

import contextvars
import sys
from typing import Any, Mapping, Optional

import flask

from ._identity import Identity, identify_or_nobody
from ._settings import current_settings


class RequestIdentity:
    """One request's headers and, once asked for or admitted by a guard, its identity."""

    __slots__ = ("headers", "_identity")

    def __init__(self, headers: Mapping[str, str], identity: Optional[Identity] = None) -> None:
        self.headers = headers
        self._identity = identity

    def identity_if_known(self) -> Optional[Identity]:
        """The identity a guard admitted or a read already worked out, without working it out now."""
        return self._identity

    def identity(self) -> Identity:
        """The verified caller; raises DashgateConfigError while the settings cannot verify anyone."""
        if self._identity is None:
            self._identity = identify_or_nobody(self.headers, current_settings())
        return self._identity


#: Set by the ASGI middleware for one HTTP request or one WebSocket connection.
asgi_request_identity: contextvars.ContextVar[Optional[RequestIdentity]] = contextvars.ContextVar("dashgate_request_identity", default=None)

_FLASK_KEY = "_dashgate_request_identity"


def flask_request_identity(identity: Optional[Identity] = None) -> RequestIdentity:
    """The current Flask request's record, created on first use (with ``identity`` when a guard admitted it)."""
    record = flask.g.get(_FLASK_KEY)
    if record is None or identity is not None:
        record = RequestIdentity(flask.request.headers, identity)
        setattr(flask.g, _FLASK_KEY, record)
    return record


def current_request_identity() -> Optional[RequestIdentity]:
    """The record of the request being served, or None outside any request."""
    record = asgi_request_identity.get()
    if record is not None:
        return record
    if flask.has_request_context():
        return flask_request_identity()
    request = _fastapi_request()
    return RequestIdentity(request.headers) if request is not None else None


def _fastapi_request() -> Any:
    """Dash's own current FastAPI request, for apps where the plugin's middleware is not installed."""
    module = sys.modules.get("dash.backends._fastapi")  # never import FastAPI into a Flask app
    if module is None:
        return None
    try:
        return module.get_current_request()
    except RuntimeError:
        return None
