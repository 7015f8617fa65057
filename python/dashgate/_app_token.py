"""X-Dashgate-App-Token: an HS256 JWT (RFC 7519) checked with the standard library alone.

The gateway signs it with a secret shared with this app only (src/auth/app-token.ts), so
verifying it needs neither PyJWT nor cryptography, and a request that carries a valid one came
through the gateway. It is sent on anonymous requests too, without ``sub``.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
import math
import re
import time
from typing import Any, Callable, Dict, Optional

from ._errors import IdentityTokenError

#: Clock skew tolerated between the gateway and the app, in seconds.
LEEWAY_SECONDS = 5
#: The gateway's tokens are a few hundred bytes; bounding the length bounds the work a forged one costs.
MAX_TOKEN_LENGTH = 8192

_SEGMENT = re.compile(r"^[A-Za-z0-9_-]+$")


def verify_app_token(
    token: Optional[str],
    secret: str,
    *,
    audience: str,
    issuer: Optional[str] = None,
    now: Callable[[], float] = time.time,
) -> Dict[str, Any]:
    """The claims of a valid X-Dashgate-App-Token; raises IdentityTokenError (with a ``code``) for anything else.

    Accepts only ``alg`` exactly ``HS256`` (RFC 8725 §3.1: never let the token pick the
    algorithm, so ``none`` and every other value are refused), compares the signature in
    constant time, and requires ``exp`` and ``iat`` (``LEEWAY_SECONDS`` of skew) and ``aud``;
    ``iss`` is checked when ``issuer`` is given.
    """
    if not token:
        raise IdentityTokenError("missing", "no X-Dashgate-App-Token on this request")
    claims = _parse_json_object(_authenticated_payload(token, secret), "payload")  # fresh objects on every call
    check_claims(claims, audience=audience, issuer=issuer, now=now())
    return claims


@functools.lru_cache(maxsize=2048)
def _authenticated_payload(token: str, secret: str) -> bytes:
    """The payload (JSON bytes) of a token signed with ``secret``; raises IdentityTokenError otherwise.

    Cached because the gateway reuses one token per session for half its life: a repeat costs a
    dict lookup instead of about 40 µs. Only tokens whose signature checked out are cached (an
    exception is never cached), and time-dependent claims are checked on every use by the caller.
    """
    if len(token) > MAX_TOKEN_LENGTH:
        raise IdentityTokenError("malformed", "the token is too long")
    parts = token.split(".")
    if len(parts) != 3 or not all(_SEGMENT.match(part) for part in parts):
        raise IdentityTokenError("malformed", "a JWT is three base64url segments separated by dots")
    header = _decode_json_object(parts[0], "header")
    if header.get("alg") != "HS256":
        raise IdentityTokenError("unsupported_alg", f"alg must be HS256, not {header.get('alg')!r}")
    if "crit" in header:
        # RFC 7515 §4.1.11: extensions listed in crit must be understood; this verifier knows none.
        raise IdentityTokenError("malformed", "the token has critical header extensions")
    expected = hmac.new(secret.encode("utf-8"), f"{parts[0]}.{parts[1]}".encode("ascii"), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, _decode_segment(parts[2], "signature")):
        raise IdentityTokenError("bad_signature", "the token is not signed with this app's secret")
    return _decode_segment(parts[1], "payload")


def check_claims(claims: Dict[str, Any], *, audience: str, issuer: Optional[str], now: float) -> None:
    """Raise IdentityTokenError unless the (already authenticated) claims are current and meant for this app."""
    exp, iat = claims.get("exp"), claims.get("iat")
    if not _is_number(exp) or not _is_number(iat):
        raise IdentityTokenError("bad_claims", "exp and iat must be numbers")
    if now >= exp + LEEWAY_SECONDS:
        raise IdentityTokenError("expired", "the token has expired")
    if iat > now + LEEWAY_SECONDS:
        raise IdentityTokenError("issued_in_future", "the token was issued in the future (clocks out of step?)")
    nbf = claims.get("nbf")
    if nbf is not None and (not _is_number(nbf) or nbf > now + LEEWAY_SECONDS):
        raise IdentityTokenError("issued_in_future", "the token is not valid yet")
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    if audience not in audiences:
        raise IdentityTokenError("wrong_audience", f"the token is for {aud!r}, not {audience!r}")
    if issuer is not None and claims.get("iss") != issuer:
        raise IdentityTokenError("wrong_issuer", f"the token was issued by {claims.get('iss')!r}, not {issuer!r}")
    if "sub" in claims:
        if not isinstance(claims["sub"], str) or not claims["sub"]:
            raise IdentityTokenError("bad_claims", "sub must be a non-empty string")
        if not isinstance(claims.get("username"), str) or not claims["username"]:
            raise IdentityTokenError("bad_claims", "a token with sub must name the username")
        groups = claims.get("groups", [])
        if not isinstance(groups, list) or not all(isinstance(group, str) for group in groups):
            raise IdentityTokenError("bad_claims", "groups must be a list of strings")


def _is_number(value: Any) -> bool:
    # json.loads accepts NaN and Infinity; an exp of Infinity must not mean "never expires".
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _decode_segment(segment: str, what: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError) as err:
        raise IdentityTokenError("malformed", f"the {what} is not base64url") from err
    # One encoding per value (RFC 7515 §2 base64url without padding): no second spelling of a signature.
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != segment:
        raise IdentityTokenError("malformed", f"the {what} is not canonical base64url")
    return raw


def _decode_json_object(segment: str, what: str) -> Dict[str, Any]:
    return _parse_json_object(_decode_segment(segment, what), what)


def _parse_json_object(raw: bytes, what: str) -> Dict[str, Any]:
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise IdentityTokenError("malformed", f"the {what} is not JSON") from err
    if not isinstance(value, dict):
        raise IdentityTokenError("malformed", f"the {what} is not a JSON object")
    return value
