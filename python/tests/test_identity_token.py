"""verify_identity_token accepts only a valid, unexpired token for its audience signed by a key in the JWKS."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import dashgate

GATEWAY_KEY = Ed25519PrivateKey.generate()
OTHER_KEY = Ed25519PrivateKey.generate()


@pytest.fixture(scope="module", autouse=True)
def jwks_server():
    public = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(GATEWAY_KEY.public_key()))
    public.update({"kid": "k1", "alg": "EdDSA", "use": "sig"})
    document = json.dumps({"keys": [public]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(document)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    dashgate.configure(jwks_url=f"http://127.0.0.1:{server.server_port}/jwks.json", audience="dash-app", issuer="dashgate")
    yield
    server.shutdown()


def token(key=GATEWAY_KEY, kid="k1", alg="EdDSA", **claims):
    now = int(time.time())
    payload = {"iss": "dashgate", "aud": "dash-app", "sub": "u1", "iat": now, "exp": now + 300, "username": "alice", "groups": ["hr"], **claims}
    return jwt.encode(payload, key, algorithm=alg, headers={"kid": kid})


def test_accepts_a_valid_token():
    claims = dashgate.verify_identity_token(token())
    assert claims["username"] == "alice"
    assert claims["groups"] == ["hr"]


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(lambda: token(exp=int(time.time()) - 60), id="expired"),
        pytest.param(lambda: token(aud="other-app"), id="wrong audience"),
        pytest.param(lambda: token(iss="someone-else"), id="wrong issuer"),
        pytest.param(lambda: token(key=OTHER_KEY), id="wrong key"),
        pytest.param(lambda: jwt.encode({"aud": "dash-app", "sub": "u1", "exp": int(time.time()) + 60, "iat": int(time.time()), "username": "admin"}, None, algorithm="none", headers={"kid": "k1"}), id="alg none"),
        pytest.param(lambda: token()[:-4] + "AAAA", id="tampered signature"),
        pytest.param(lambda: "", id="missing"),
        pytest.param(lambda: "not.a.jwt", id="garbage"),
    ],
)
def test_refuses(bad):
    with pytest.raises(dashgate.IdentityTokenError):
        dashgate.verify_identity_token(bad())


def test_check_groups_outside_a_request_is_false():
    assert dashgate.get_username() is None
    assert dashgate.check_groups(["hr"]) is False
    assert dashgate.check_groups(["hr"], "none_of") is True
    with pytest.raises(ValueError):
        dashgate.check_groups(["hr"], "some_of")
