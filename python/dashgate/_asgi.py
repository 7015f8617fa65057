"""The plugin's guard on Dash's FastAPI backend: a plain ASGI middleware on the app's FastAPI server.

Dash's own DashMiddleware runs before-request functions only for Dash's routes, and Starlette
mounts (assets) and the catch-all page route sit outside it; an ASGI middleware sees every HTTP
request and every WebSocket handshake, so one check covers all of them. The identity it admits is
kept in a context variable for the request or connection: Dash copies the context into the
callbacks it runs, over HTTP and over the WebSocket.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Dict

from starlette.datastructures import Headers

from ._current import RequestIdentity, asgi_request_identity
from ._guard import Refusal, guard_request, render_refusal, wants_json
from ._identity import Identity
from ._settings import current_settings

Scope = Dict[str, Any]
Receive = Callable[[], Awaitable[Dict[str, Any]]]
Send = Callable[[Dict[str, Any]], Awaitable[None]]

#: WebSocket close code for a refused handshake (4000-4999 are the application's, RFC 6455 §7.4.2);
#: before the handshake is accepted the ASGI server answers it with HTTP 403.
WS_REFUSED = 4003


class GatewayCheckMiddleware:
    """Refuse HTTP requests and WebSocket handshakes that did not come through the gateway (when required)."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        method = scope.get("method", "GET") if scope["type"] == "http" else "WEBSOCKET"
        result = guard_request(headers, current_settings(), method, scope.get("path", ""))
        if isinstance(result, Refusal):
            await _refuse(scope, send, result, headers)
            return
        record = RequestIdentity(headers, result if isinstance(result, Identity) else None)
        token = asgi_request_identity.set(record)
        try:
            await self.app(scope, receive, send)
        finally:
            asgi_request_identity.reset(token)


async def _refuse(scope: Scope, send: Send, refusal: Refusal, headers: Headers) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": WS_REFUSED, "reason": refusal.code})
        return
    method = scope.get("method", "GET")
    status, content_type, body = render_refusal(refusal, wants_json(method, scope.get("path", ""), headers.get("accept")))
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", content_type.encode("latin-1")), (b"content-length", str(len(body)).encode("ascii"))]})
    await send({"type": "http.response.body", "body": body})
