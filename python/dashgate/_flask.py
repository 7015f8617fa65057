"""The plugin's guard on Dash's Flask backend: a before_request function on the app's Flask server.

Flask runs it before every route of that server (Dash's pages, callbacks, component suites,
assets), so a refused request never reaches the app.
"""

from __future__ import annotations

from typing import Any, Optional

import flask

from ._current import flask_request_identity
from ._guard import Refusal, guard_request, render_refusal, wants_json
from ._settings import current_settings


def install_flask_guard(server: flask.Flask) -> None:
    """Run the gateway check first on every request of ``server``."""
    # Installed from Dash's setup hook, before Dash registers its own before_request functions, so
    # for the server Dash creates it runs first; a server handed to Dash ready-made runs the
    # functions it already had before it (Flask's public API only appends).
    server.before_request(check_gateway_token)


def check_gateway_token() -> Optional[Any]:
    """Flask before_request: refuse requests that did not come through the gateway (when required)."""
    request = flask.request
    result = guard_request(request.headers, current_settings(), request.method, request.path)
    if isinstance(result, Refusal):
        status, content_type, body = render_refusal(result, wants_json(request.method, request.path, request.headers.get("Accept")))
        return flask.Response(body, status=status, content_type=content_type)
    if result is not None:
        flask_request_identity(result)
    return None
