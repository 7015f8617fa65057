"""The signed-in user inside a Dash app guarded by Dashgate.

Dashgate (the gateway in front of the app) removes every client-sent identity header and sets its
own on each request: ``X-Dashgate-App-Token`` (an HS256 JWT under a secret shared with this app,
sent on anonymous requests too), ``X-Dashgate-Jwt`` (EdDSA, for signed-in users) and the plain
``X-Forwarded-*`` headers. The names below are the ones Dash Enterprise's ``dash_enterprise_auth``
uses, so apps can switch without rewrites.

Which one is believed (see Settings.mode): the app token when ``DASHGATE_APP_SECRET`` is set
(``dashgate run`` sets it; verified with the standard library), else the JWT when a JWKS URL is
configured (needs PyJWT), else the plain headers. When the settings cannot verify anyone (secret
too short, JWKS without PyJWT) the helper logs it once and raises DashgateConfigError on use,
rather than answering "nobody signed in" for a signed-in user.

Installed with pip, the package is also a Dash plugin (``dashgate._plugin``) that checks every
request in every Dash app of the environment.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Dict, Iterable, List, Optional

from ._app_token import verify_app_token
from ._current import current_request_identity
from ._errors import DashgateConfigError, IdentityTokenError
from ._jwks import verify_identity_token
from ._settings import current_settings, update_settings

__all__ = [
    "configure",
    "get_username",
    "get_user_data",
    "get_groups",
    "check_groups",
    "create_logout_button",
    "protected",
    "verify_app_token",
    "verify_identity_token",
    "IdentityTokenError",
    "DashgateConfigError",
]


def configure(
    jwks_url: Optional[str] = None,
    audience: Optional[str] = None,
    issuer: Optional[str] = None,
    prefix: Optional[str] = None,
    app_secret: Optional[str] = None,
    require_gateway: Optional[bool] = None,
) -> None:
    """Override the DASHGATE_APP_* environment: the shared app secret, whether to refuse requests that did
    not come through the gateway, the JWKS URL, the expected audience and issuer, and the gateway's route prefix."""
    update_settings(jwks_url=jwks_url, audience=audience, issuer=issuer, prefix=prefix, app_secret=app_secret, require_gateway=require_gateway)


def get_user_data() -> Optional[Dict[str, Any]]:
    """{"username", "email", "name", "groups"} of the signed-in user, or None outside a request or when nobody is signed in.

    Raises DashgateConfigError when the configuration cannot verify who is calling.
    """
    record = current_request_identity()
    if record is None:
        return None
    user = record.identity().user
    return {**user, "groups": list(user["groups"])} if user else None


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
    if check_type not in ("one_of", "all_of", "none_of"):
        raise ValueError('check_type must be "one_of", "all_of" or "none_of"')
    data = get_user_data()
    have = set(data["groups"]) if data else set()
    if check_type == "one_of":
        return bool(wanted & have)
    if check_type == "all_of":
        return data is not None and wanted <= have
    return not (wanted & have)


def create_logout_button(label: str = "Logout", **style: Any) -> Any:
    """A button that signs the user out of the gateway.

    With the gateway's page helper on (the default), clicking it signs out at once; without it,
    the browser goes to the gateway's sign-out page, which asks to confirm.
    """
    from dash import html

    prefix = current_settings().prefix or "/_dashgate"
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
