"""The two error families of the helper, each with a stable ``code`` to test and branch on."""

from __future__ import annotations


class IdentityTokenError(Exception):
    """A token from the gateway is missing, malformed, expired, for another audience, or not signed by it.

    ``code`` is one of ``missing``, ``malformed``, ``unsupported_alg``, ``bad_signature``,
    ``expired``, ``issued_in_future``, ``wrong_audience``, ``wrong_issuer``, ``bad_claims``
    (and, for X-Dashgate-Jwt, ``invalid`` for anything PyJWT refuses).
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class DashgateConfigError(Exception):
    """The helper is configured so that it cannot verify who is calling.

    Raised on use (get_username() and friends) instead of answering "nobody signed in", which
    would be a silent lie for a signed-in user. ``code`` is one of ``secret_too_short``,
    ``jwks_needs_pyjwt``, ``require_gateway_without_secret``.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
