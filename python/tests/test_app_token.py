"""verify_app_token (standard library HS256) accepts exactly the gateway's tokens for this app, and refuses the rest with a code."""

import json
import time

import pytest

import dashgate
from support import b64url, make_app_token

SECRET = "unit-secret-0123456789abcdef-0123456789"


def verify(token, **kwargs):
    return dashgate.verify_app_token(token, SECRET, audience=kwargs.pop("audience", "dash-app"), issuer=kwargs.pop("issuer", "dashgate"), **kwargs)


def code_of(token, **kwargs):
    with pytest.raises(dashgate.IdentityTokenError) as raised:
        verify(token, **kwargs)
    return raised.value.code


def test_accepts_a_signed_in_users_token():
    claims = verify(make_app_token(SECRET))
    assert claims["username"] == "alice"
    assert claims["groups"] == ["hr"]


def test_accepts_an_anonymous_token_without_sub():
    claims = verify(make_app_token(SECRET, sub=None, username=None, email=None, name=None, groups=None, amr=None))
    assert "sub" not in claims


def test_accepts_a_token_made_by_pyjwt_the_same_way():
    jwt = pytest.importorskip("jwt")
    now = int(time.time())
    token = jwt.encode({"iss": "dashgate", "aud": ["other", "dash-app"], "iat": now, "exp": now + 60}, SECRET, algorithm="HS256")
    assert verify(token)["aud"] == ["other", "dash-app"]


def test_issuer_is_only_checked_when_configured():
    assert verify(make_app_token(SECRET, iss="elsewhere"), issuer=None)["iss"] == "elsewhere"


def test_expiry_allows_five_seconds_of_clock_skew_and_no_more():
    token = make_app_token(SECRET, iat=1000, exp=1300)
    assert verify(token, now=lambda: 1304)["exp"] == 1300
    assert code_of(token, now=lambda: 1305) == "expired"
    assert verify(token, now=lambda: 996)["iat"] == 1000
    assert code_of(token, now=lambda: 994) == "issued_in_future"


def _signed(header_json: str, payload_json: str) -> str:
    import hashlib
    import hmac

    signing_input = b64url(header_json.encode()) + "." + b64url(payload_json.encode())
    return signing_input + "." + b64url(hmac.new(SECRET.encode(), signing_input.encode(), hashlib.sha256).digest())


def _with_signature_starting(token: str, char: str) -> str:
    head, payload, signature = token.split(".")
    return f"{head}.{payload}.{char if signature[0] != char else 'B'}{signature[1:]}"


NOW = int(time.time())
VALID_CLAIMS = {"iss": "dashgate", "aud": "dash-app", "iat": NOW, "exp": NOW + 300}


@pytest.mark.parametrize(
    "token,code",
    [
        pytest.param("", "missing", id="missing"),
        pytest.param(None, "missing", id="none"),
        pytest.param("a.b", "malformed", id="two segments"),
        pytest.param("a.b.c.d", "malformed", id="four segments"),
        pytest.param("a b.c.d", "malformed", id="not base64url"),
        pytest.param("x" * 9000, "malformed", id="too long"),
        pytest.param(make_app_token(SECRET, header={"alg": "none", "typ": "JWT"}), "unsupported_alg", id="alg none"),
        pytest.param(make_app_token(SECRET, header={"alg": "HS512", "typ": "JWT"}), "unsupported_alg", id="alg HS512"),
        pytest.param(make_app_token(SECRET, header={"alg": "hs256", "typ": "JWT"}), "unsupported_alg", id="alg in lower case"),
        pytest.param(make_app_token(SECRET, header={"typ": "JWT"}), "unsupported_alg", id="no alg"),
        pytest.param(make_app_token(SECRET, header={"alg": "HS256", "crit": ["exp"]}), "malformed", id="crit header"),
        pytest.param(make_app_token("another-secret-0123456789abcdef-0123"), "bad_signature", id="another secret"),
        pytest.param(_with_signature_starting(make_app_token(SECRET), "A"), "bad_signature", id="tampered signature"),
        pytest.param(make_app_token(SECRET, aud="other-app"), "wrong_audience", id="wrong audience"),
        pytest.param(make_app_token(SECRET, aud=["a", "b"]), "wrong_audience", id="audience list without ours"),
        pytest.param(make_app_token(SECRET, aud=None), "wrong_audience", id="no audience"),
        pytest.param(make_app_token(SECRET, iss="someone-else"), "wrong_issuer", id="wrong issuer"),
        pytest.param(make_app_token(SECRET, exp=None), "bad_claims", id="no exp"),
        pytest.param(make_app_token(SECRET, iat=None), "bad_claims", id="no iat"),
        pytest.param(make_app_token(SECRET, exp=True), "bad_claims", id="exp is a boolean"),
        pytest.param(make_app_token(SECRET, exp="9999999999"), "bad_claims", id="exp is a string"),
        pytest.param(_signed('{"alg":"HS256"}', json.dumps({**VALID_CLAIMS, "exp": float("inf")})), "bad_claims", id="exp Infinity"),
        pytest.param(make_app_token(SECRET, nbf=NOW + 60), "issued_in_future", id="not before in the future"),
        pytest.param(make_app_token(SECRET, username=None), "bad_claims", id="sub without username"),
        pytest.param(make_app_token(SECRET, sub=""), "bad_claims", id="empty sub"),
        pytest.param(make_app_token(SECRET, groups="hr"), "bad_claims", id="groups not a list"),
        pytest.param(_signed('{"alg":"HS256"}', "[1,2]"), "malformed", id="payload not an object"),
        pytest.param(_signed('"HS256"', json.dumps(VALID_CLAIMS)), "malformed", id="header not an object"),
        pytest.param(b64url(b'{"alg":"HS256"') + "." + b64url(b"{}") + ".AA", "malformed", id="header not JSON"),
    ],
)
def test_refuses(token, code):
    assert code_of(token) == code


def test_a_second_spelling_of_the_signature_is_refused():
    token = make_app_token(SECRET)
    head, payload, signature = token.split(".")
    # 32 bytes are 43 base64url characters; the last one carries 2 unused bits that must be zero.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(signature[-1])
    respelled = signature[:-1] + alphabet[last | 1 if not last & 1 else last & ~1]
    assert code_of(f"{head}.{payload}.{respelled}") == "malformed"
