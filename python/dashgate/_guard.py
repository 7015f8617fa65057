"""The plugin's check of every request: admitted with its identity, or a refusal to send back.

Used by the Flask guard, the ASGI middleware (HTTP and WebSocket handshakes) and the WebSocket
message hook, so that all of them refuse the same requests with the same codes.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Mapping, Optional, Tuple, Union

from ._errors import DashgateConfigError, IdentityTokenError
from ._identity import Identity, identify
from ._settings import Settings

logger = logging.getLogger("dashgate")


@dataclass(frozen=True)
class Refusal:
    """Why a request is not served. ``code`` is stable (tests and clients branch on it); ``reason`` is the token's error code."""

    status: int
    code: str
    message: str
    reason: Optional[str] = None


def guard_request(headers: Mapping[str, str], settings: Settings, method: str, path: str) -> Union[Identity, Refusal, None]:
    """The identity of a request the gateway sent, a Refusal for one it did not, or None when nothing is required.

    Only with ``require_gateway`` (``DASHGATE_APP_REQUIRE_GATEWAY``, which ``dashgate run`` sets)
    is anything refused; otherwise the identity is worked out when the app asks for it.
    """
    if not settings.require_gateway:
        return None
    try:
        return identify(headers, settings)
    except DashgateConfigError as err:
        # Already logged once at ERROR by check_settings; the client learns only that it is on our side.
        return Refusal(500, "dashgate_misconfigured", "This app cannot check its Dashgate gateway's token; see the app's log.", err.code)
    except IdentityTokenError as err:
        if err.code == "missing":
            # Also what the gateway's own start-up probe of the app's port gets: not worth a warning.
            logger.info("dashgate: refused %s %s: no X-Dashgate-App-Token (did not come through the gateway)", method, path)
            return Refusal(403, "gateway_required", "This app only answers requests that come through its Dashgate gateway.")
        logger.warning("dashgate: refused %s %s: X-Dashgate-App-Token %s (%s)", method, path, err.code, err)
        return Refusal(403, "invalid_gateway_token", "The Dashgate gateway's token on this request is not valid.", err.code)


def wants_json(method: str, path: str, accept: Optional[str]) -> bool:
    """Whether a refusal should be JSON: Dash's own routes and scripted calls, like the gateway's outcome step."""
    return "/_dash-" in path or method not in ("GET", "HEAD") or "application/json" in (accept or "")


def render_refusal(refusal: Refusal, as_json: bool) -> Tuple[int, str, bytes]:
    """Status, content type and body of a refusal."""
    if as_json:
        body = {"error": refusal.code, "message": refusal.message}
        if refusal.reason:
            body["reason"] = refusal.reason
        return refusal.status, "application/json", json.dumps(body).encode("utf-8")
    return refusal.status, "text/plain; charset=utf-8", (refusal.message + "\n").encode("utf-8")
