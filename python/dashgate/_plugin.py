"""Dashgate as a Dash plugin, in every Dash app of an environment where the package is installed.

Dash (3.0+) imports the modules named under the ``dash_hooks`` entry-point group when the first
``Dash()`` is created (dash/_hooks.py, HooksManager.register_setuptools); python/pyproject.toml
names this module there, so importing it registers the hooks below, with no change to the app:

- ``setup``: installs the gateway check on the app's server (Flask before_request, or an ASGI
  middleware for the FastAPI backend), which refuses requests that did not come through the
  gateway when DASHGATE_APP_REQUIRE_GATEWAY is set;
- ``custom_data``: ``callback_context.custom_data["dashgate"]`` is the signed-in user;
- ``websocket_message``: every message on a WebSocket callback connection is checked against the
  identity its handshake was admitted with.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from typing import Any, Dict, Iterator, Optional, Tuple, Union

from dash import hooks

from ._current import asgi_request_identity, current_request_identity
from ._errors import DashgateConfigError
from ._flask import install_flask_guard
from ._settings import Settings, check_settings, current_settings

logger = logging.getLogger("dashgate")

_GUARDED = "_dashgate_guarded"
_announced = False


@hooks.setup()
def guard_app(dash_app: Any) -> None:
    """Install the gateway check on the app's server, now and again whenever init_app() gives it another server."""
    _announce(current_settings())
    _install_guard(dash_app)
    original_init_app = dash_app.init_app

    # Dash(server=False) followed by app.init_app(server) is the app-factory pattern: the setup
    # hook only sees a placeholder server, so the check must follow the real one.
    @functools.wraps(original_init_app)
    def init_app_then_guard(*args: Any, **kwargs: Any) -> None:
        original_init_app(*args, **kwargs)
        _install_guard(dash_app)

    dash_app.init_app = init_app_then_guard


def _install_guard(dash_app: Any) -> None:
    server = dash_app.server
    if server is None or getattr(server, _GUARDED, False):
        return
    kind = getattr(dash_app.backend, "server_type", "flask")
    if kind == "flask":
        install_flask_guard(server)
    elif kind == "fastapi":
        from ._asgi import GatewayCheckMiddleware  # Starlette exists only with the FastAPI backend

        server.add_middleware(GatewayCheckMiddleware)
    else:
        logger.error(
            "dashgate: the Dash backend %r is not supported (only flask and fastapi): requests are not checked and "
            "get_username() cannot see them",
            kind,
        )
        return
    setattr(server, _GUARDED, True)


def _announce(settings: Settings) -> None:
    """One line per process saying what the plugin checks, or the configuration problem (at ERROR)."""
    global _announced
    if _announced:
        return
    _announced = True
    try:
        check_settings(settings)
    except DashgateConfigError:
        return  # logged by check_settings; raised again on every use
    if settings.require_gateway:
        logger.info("dashgate: only requests through the gateway are served (X-Dashgate-App-Token checked on each)")
    elif settings.mode == "headers":
        logger.info("dashgate: not behind Dashgate, or not configured: get_username() reads the plain X-Forwarded-* headers")


@hooks.custom_data("dashgate")
def user_for_callback(_context: Any) -> "Mapping[str, Any]":
    """``callback_context.custom_data["dashgate"]``: the signed-in user's data, empty (and falsy) when nobody is.

    Dash runs this hook before the callback. For a sync callback over the WebSocket it runs on a
    worker thread that cannot see the connection (dash/backends/ws.py, run_callback_in_executor:
    only the callback itself runs in the connection's context), and with a configuration problem
    raising here would break every callback, asked for the user or not; in both cases the value
    is a CallbackUser, read when the callback reads it.
    """
    record = current_request_identity()
    if record is None:
        return CallbackUser()
    try:
        user = record.identity().user
    except DashgateConfigError:
        return CallbackUser()
    return dict(user) if user else {}


class CallbackUser(Mapping):
    """The signed-in user's data, looked up on each read from the request or connection being served."""

    def _data(self) -> Dict[str, Any]:
        from . import get_user_data  # the public function, so both give the same answer

        return get_user_data() or {}

    def __getitem__(self, key: str) -> Any:
        return self._data()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data())

    def __len__(self) -> int:
        return len(self._data())

    def __repr__(self) -> str:
        return f"CallbackUser({self._data()!r})"


@hooks.websocket_message()
def recheck_websocket_message(_websocket: Any, _message: Any) -> Union[bool, Tuple[int, str]]:
    """Refuse a message on a connection that was not admitted through the gateway (when required).

    The middleware already refused such handshakes; this is the second lock for a WebSocket route
    the middleware does not wrap. The message carries no token of its own, so what is re-checked
    is the connection's admission; ending the socket when the session ends is the gateway's part.
    """
    if not current_settings().require_gateway:
        return True
    record = asgi_request_identity.get()
    if record is None or not _admitted(record.identity_if_known()):
        return (4003, "gateway_required")
    return True


def _admitted(identity: Optional[Any]) -> bool:
    return identity is not None and identity.through_gateway
