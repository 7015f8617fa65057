"""Who is calling, from one request's headers: the one rule every entry point uses.

The plugin's guards (Flask, ASGI) and get_user_data() all call identify(); nothing else reads
the identity headers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional
from urllib.parse import unquote

from ._app_token import verify_app_token
from ._errors import IdentityTokenError
from ._jwks import verify_identity_token
from ._settings import Settings, check_settings

UserData = Dict[str, Any]


@dataclass(frozen=True)
class Identity:
    """The verified caller. ``user`` is None when nobody is signed in.

    ``through_gateway`` is True only when a token proves the request came through the gateway
    (an app token, signed in or not, or a valid X-Dashgate-Jwt).
    """

    user: Optional[UserData]
    via: str
    through_gateway: bool


def identify(headers: Mapping[str, str], settings: Settings) -> Identity:
    """The caller of a request with these headers, as the settings say to find out.

    Raises DashgateConfigError when the settings cannot verify anyone, and IdentityTokenError
    when the request's token is missing (app-token mode) or not valid.
    """
    check_settings(settings)
    if settings.mode == "app_token":
        assert settings.app_secret is not None
        claims = verify_app_token(headers.get("X-Dashgate-App-Token"), settings.app_secret, audience=settings.audience, issuer=settings.issuer)
        return Identity(_user_from_claims(claims) if "sub" in claims else None, "app_token", True)
    if settings.mode == "jwt":
        token = headers.get("X-Dashgate-Jwt")
        if not token:
            # The gateway sends X-Dashgate-Jwt to signed-in users only: its absence is "nobody".
            return Identity(None, "jwt", False)
        return Identity(_user_from_claims(verify_identity_token(token)), "jwt", True)
    return Identity(_user_from_headers(headers), "headers", False)


def identify_or_nobody(headers: Mapping[str, str], settings: Settings) -> Identity:
    """identify(), with a missing or invalid token read as nobody signed in (configuration problems still raise).

    For reading the user where the plugin did not already refuse the request: a request without
    a valid token has no verified user, which is the truth, not a silent failure.
    """
    try:
        return identify(headers, settings)
    except IdentityTokenError:
        return Identity(None, settings.mode, False)


def _user_from_claims(claims: Mapping[str, Any]) -> UserData:
    return {
        "username": claims.get("username"),
        "email": claims.get("email"),
        "name": claims.get("name") or claims.get("username"),
        "groups": list(claims.get("groups") or []),
    }


def _user_from_headers(headers: Mapping[str, str]) -> Optional[UserData]:
    username = headers.get("X-Forwarded-User")
    if not username:
        return None
    email = headers.get("X-Forwarded-Email")
    groups: List[str] = [unquote(group) for group in (headers.get("X-Forwarded-Groups") or "").split(",") if group]
    return {
        "username": unquote(username),
        "email": unquote(email) if email else None,
        "name": unquote(headers.get("X-Forwarded-Preferred-Username") or username),
        "groups": groups,
    }
