"""X-Dashgate-Jwt: the EdDSA/ES256 identity token, verified against the gateway's JWKS with PyJWT.

Only used when no app secret is configured (see Settings.mode); PyJWT is an optional extra
(``pip install "dashgate[jwt]"``) because EdDSA needs the cryptography package.
"""

from __future__ import annotations

import threading
from typing import Any, Dict, Optional, Tuple

from ._errors import IdentityTokenError
from ._app_token import LEEWAY_SECONDS
from ._settings import current_settings

_client_lock = threading.Lock()
_client: Optional[Tuple[str, Any]] = None  # (jwks_url, PyJWKClient): one client per URL, keys cached


def verify_identity_token(token: Optional[str]) -> Dict[str, Any]:
    """The claims of a valid X-Dashgate-Jwt; raises IdentityTokenError for anything else (including alg "none")."""
    settings = current_settings()
    if not token:
        raise IdentityTokenError("missing", "no X-Dashgate-Jwt on this request")
    if not settings.jwks_url:
        raise IdentityTokenError("invalid", "no JWKS URL configured: call dashgate.configure(jwks_url=...)")
    try:
        import jwt  # PyJWT
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise IdentityTokenError("invalid", 'verifying X-Dashgate-Jwt needs PyJWT: pip install "dashgate[jwt]"') from err
    try:
        key = _jwks_client(jwt, settings.jwks_url).get_signing_key_from_jwt(token)
        kwargs: Dict[str, Any] = {
            "algorithms": ["EdDSA", "ES256"],
            "audience": settings.audience,
            "options": {"require": ["exp", "iat", "sub", "aud"]},
            "leeway": LEEWAY_SECONDS,
        }
        if settings.issuer:
            kwargs["issuer"] = settings.issuer
        return jwt.decode(token, key.key, **kwargs)
    except Exception as err:  # PyJWT raises several families; all mean "not a valid identity"
        raise IdentityTokenError("invalid", str(err)) from err


def _jwks_client(jwt: Any, url: str) -> Any:
    global _client
    with _client_lock:
        if _client is None or _client[0] != url:
            _client = (url, jwt.PyJWKClient(url, cache_keys=True, lifespan=300))
        return _client[1]
