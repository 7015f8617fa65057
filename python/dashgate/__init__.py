"""The signed-in user inside a Dash app guarded by Dashgate.

Dashgate (the gateway in front of the app) removes every client-sent identity header and sets its
own on each request: ``X-Forwarded-User``, ``X-Forwarded-Email``, ``X-Forwarded-Preferred-Username``,
``X-Forwarded-Groups`` and ``X-Dashgate-Jwt`` (the same claims, signed). The names below are the
ones Dash Enterprise's ``dash_enterprise_auth`` uses, so apps can switch without rewrites.

When a JWKS URL is configured (``configure(jwks_url=...)`` or the ``DASHGATE_APP_JWKS_URL``
environment variable, which ``dashgate run`` sets for the app it starts) the identity is taken
from the verified JWT only, and a missing or invalid token means "nobody signed in". Without it,
the plain headers are read: only safe when the app cannot be reached except through the gateway.
"""

from __future__ import annotations

import functools
import os
from typing import Any, Callable, Dict, Iterable, List, Optional
from urllib.parse import unquote

__all__ = [
    "configure",
    "get_username",
    "get_user_data",
    "get_groups",
    "check_groups",
    "create_logout_button",
    "protected",
    "verify_identity_token",
    "IdentityTokenError",
]

_settings: Dict[str, Optional[str]] = {
    "jwks_url": os.environ.get("DASHGATE_APP_JWKS_URL") or None,
    "audience": os.environ.get("DASHGATE_APP_AUDIENCE") or "dash-app",
    "issuer": os.environ.get("DASHGATE_APP_ISSUER") or None,
    "prefix": os.environ.get("DASHGATE_APP_PREFIX") or "/_dashgate",
}
_jwks_client: Any = None


class IdentityTokenError(Exception):
    """X-Dashgate-Jwt is missing, malformed, expired, for another audience, or not signed by the gateway."""


def configure(jwks_url: Optional[str] = None, audience: Optional[str] = None, issuer: Optional[str] = None, prefix: Optional[str] = None) -> None:
    """Set where the gateway's keys are (enables JWT verification), the expected audience and issuer, and the gateway's route prefix."""
    global _jwks_client
    for key, value in (("jwks_url", jwks_url), ("audience", audience), ("issuer", issuer), ("prefix", prefix)):
        if value is not None:
            _settings[key] = value
    _jwks_client = None


def verify_identity_token(token: Optional[str]) -> Dict[str, Any]:
    """The claims of a valid X-Dashgate-Jwt; raises IdentityTokenError for anything else (including alg "none")."""
    global _jwks_client
    if not token:
        raise IdentityTokenError("no X-Dashgate-Jwt on this request")
    if not _settings["jwks_url"]:
        raise IdentityTokenError("no JWKS URL configured: call dashgate.configure(jwks_url=...)")
    try:
        import jwt  # PyJWT
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise IdentityTokenError('verifying X-Dashgate-Jwt needs PyJWT: pip install "dashgate[jwt]"') from err
    try:
        if _jwks_client is None:
            _jwks_client = jwt.PyJWKClient(_settings["jwks_url"], cache_keys=True, lifespan=300)
        key = _jwks_client.get_signing_key_from_jwt(token)
        options = {"require": ["exp", "iat", "sub", "aud"]}
        kwargs: Dict[str, Any] = {"algorithms": ["EdDSA", "ES256"], "audience": _settings["audience"], "options": options, "leeway": 5}
        if _settings["issuer"]:
            kwargs["issuer"] = _settings["issuer"]
        return jwt.decode(token, key.key, **kwargs)
    except Exception as err:  # PyJWT raises several families; all mean "not a valid identity"
        raise IdentityTokenError(str(err)) from err


def _request_headers() -> Any:
    import flask

    if not flask.has_request_context():
        return None
    return flask.request.headers


def get_user_data() -> Optional[Dict[str, Any]]:
    """{"username", "email", "name", "groups"} of the signed-in user, or None outside a request or when nobody is signed in."""
    headers = _request_headers()
    if headers is None:
        return None
    if _settings["jwks_url"]:
        try:
            claims = verify_identity_token(headers.get("X-Dashgate-Jwt"))
        except IdentityTokenError:
            return None
        return {"username": claims.get("username"), "email": claims.get("email"), "name": claims.get("name"), "groups": list(claims.get("groups") or [])}
    username = headers.get("X-Forwarded-User")
    if not username:
        return None
    groups = headers.get("X-Forwarded-Groups") or ""
    return {
        "username": unquote(username),
        "email": unquote(headers.get("X-Forwarded-Email")) if headers.get("X-Forwarded-Email") else None,
        "name": unquote(headers.get("X-Forwarded-Preferred-Username") or username),
        "groups": [unquote(g) for g in groups.split(",") if g],
    }


def get_username() -> Optional[str]:
    """The signed-in user's username, or None."""
    data = get_user_data()
    return data["username"] if data else None


def get_groups() -> List[str]:
    """The signed-in user's groups (empty when nobody is signed in)."""
    data = get_user_data()
    return data["groups"] if data else []


def check_groups(groups: Iterable[str], check_type: str = "one_of") -> bool:
    """Whether the signed-in user is in any ("one_of"), every ("all_of") or none ("none_of") of `groups`."""
    wanted = set(groups)
    have = set(get_groups())
    if check_type == "one_of":
        return bool(wanted & have)
    if check_type == "all_of":
        return wanted <= have and get_user_data() is not None
    if check_type == "none_of":
        return not (wanted & have)
    raise ValueError('check_type must be "one_of", "all_of" or "none_of"')


def create_logout_button(label: str = "Logout", **style: Any) -> Any:
    """A button that signs the user out of the gateway.

    With the gateway's page helper on (the default), clicking it signs out at once; without it,
    the browser goes to the gateway's sign-out page, which asks to confirm.
    """
    from dash import html

    prefix = _settings["prefix"] or "/_dashgate"
    button = html.Button(label, type="submit", style=style or None, className="dashgate-logout")
    return html.Form(button, action=f"{prefix}/logout", method="get", **{"data-dashgate-logout": "true"})


def protected(groups: Iterable[str], check_type: str = "one_of", fallback: Any = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator for Dash callbacks: run the callback only for users passing check_groups, else return `fallback`
    (default: dash.no_update). Use on callbacks with several outputs by giving a tuple/list fallback."""
    group_list = list(groups)

    def decorate(callback: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(callback)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if check_groups(group_list, check_type):
                return callback(*args, **kwargs)
            if fallback is None:
                from dash import no_update

                return no_update
            return fallback

        return guarded

    return decorate
