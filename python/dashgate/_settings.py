"""Where the helper's settings come from: the DASHGATE_APP_* environment, then configure().

``dashgate run`` sets the environment for the app it starts (see helperEnvironment() in the
gateway's src/cli/index.ts); with ``dashgate serve`` the operator sets the same variables.
Settings are a frozen value replaced as a whole, so a request never sees half of a change.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from dataclasses import dataclass, replace
from typing import Mapping, Optional, Set

from ._errors import DashgateConfigError

logger = logging.getLogger("dashgate")

#: RFC 7518 §3.2: an HS256 key has at least 256 bits; the gateway refuses shorter ones too (appSecretProblem).
MIN_SECRET_BYTES = 32

_FALSE_WORDS = {"", "0", "false", "no", "off"}


@dataclass(frozen=True)
class Settings:
    """What the helper checks. ``mode`` follows from which of them are set."""

    app_secret: Optional[str] = None
    require_gateway: bool = False
    jwks_url: Optional[str] = None
    audience: str = "dash-app"
    issuer: Optional[str] = None
    prefix: str = "/_dashgate"

    @property
    def mode(self) -> str:
        """``app_token`` when a secret is set, else ``jwt`` with a JWKS URL, else ``headers``.

        The app token wins because it is sent on every proxied request, anonymous ones included,
        and needs only the standard library; the plain headers are believed only when nothing
        else is configured (development, or an app that only the gateway can reach).
        """
        if self.app_secret is not None:
            return "app_token"
        if self.jwks_url:
            return "jwt"
        return "headers"


def settings_from_environment(env: Mapping[str, str]) -> Settings:
    """The settings the DASHGATE_APP_* variables describe (unset or empty ones keep their defaults)."""
    return Settings(
        app_secret=env.get("DASHGATE_APP_SECRET") or None,
        # Anything but an explicit "off" turns it on: a typo must not silently open the app's port.
        require_gateway=env.get("DASHGATE_APP_REQUIRE_GATEWAY", "").strip().lower() not in _FALSE_WORDS,
        jwks_url=env.get("DASHGATE_APP_JWKS_URL") or None,
        audience=env.get("DASHGATE_APP_AUDIENCE") or "dash-app",
        issuer=env.get("DASHGATE_APP_ISSUER") or None,
        prefix=env.get("DASHGATE_APP_PREFIX") or "/_dashgate",
    )


_current = settings_from_environment(os.environ)


def current_settings() -> Settings:
    """The settings in force now."""
    return _current


def update_settings(**changes: object) -> Settings:
    """Replace the settings in force with a copy that has ``changes`` (None values are ignored)."""
    global _current
    _current = replace(_current, **{key: value for key, value in changes.items() if value is not None})
    return _current


def settings_problem(settings: Settings) -> Optional[DashgateConfigError]:
    """Why these settings cannot verify who is calling, or None."""
    if settings.app_secret is not None and len(settings.app_secret.encode("utf-8")) < MIN_SECRET_BYTES:
        return DashgateConfigError(
            "secret_too_short",
            f"DASHGATE_APP_SECRET must be at least {MIN_SECRET_BYTES} characters (RFC 7518 §3.2); "
            "it must be the same secret the gateway signs X-Dashgate-App-Token with",
        )
    if settings.require_gateway and settings.app_secret is None:
        return DashgateConfigError(
            "require_gateway_without_secret",
            "DASHGATE_APP_REQUIRE_GATEWAY is set but DASHGATE_APP_SECRET is not: without the secret the app "
            "cannot tell the gateway's requests from direct ones (set identity_jwt.app_secret_env in dashgate.yaml "
            "and give the app the same secret)",
        )
    if settings.mode == "jwt" and importlib.util.find_spec("jwt") is None:
        return DashgateConfigError(
            "jwks_needs_pyjwt",
            'DASHGATE_APP_JWKS_URL is set but PyJWT is not installed, so X-Dashgate-Jwt cannot be verified: '
            'pip install "dashgate[jwt]", or give the app DASHGATE_APP_SECRET (verified without PyJWT)',
        )
    return None


_reported: Set[str] = set()


def check_settings(settings: Settings) -> None:
    """Raise the settings' problem, if any, after logging it once per process at ERROR.

    Once, because it is raised on every use; loudly, because until it is fixed nobody can be
    recognised, and a quiet log line would look like "everyone is anonymous".
    """
    problem = settings_problem(settings)
    if problem is None:
        return
    if problem.code not in _reported:
        _reported.add(problem.code)
        logger.error("dashgate: cannot verify who is calling: %s", problem)
    raise problem
