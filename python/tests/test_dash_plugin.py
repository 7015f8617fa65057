"""The Dash plugin, installed with pip into a virtualenv without PyJWT, in a real Dash 4.4.1 app behind `dashgate run`.

The app (plugin_app.py) never imports the plugin: it arrives through the `dash_hooks` entry
point. Every test runs on Dash's Flask backend and on its FastAPI backend (under uvicorn), and
the WebSocket ones on FastAPI.
"""

import base64
import json
import os
import subprocess

import pytest
import requests

from support import TESTS, b64url, clean_environment, make_app_token, plugin_venv_python, sign_in, start_dashgate_run

#: Set for `dashgate run` (which keeps a DASHGATE_APP_SECRET it is given), so the tests can sign tokens the app would believe.
SECRET = "pytest-secret-0123456789abcdef-0123456789"
WHO = {"output": "who.children", "outputs": {"id": "who", "property": "children"}, "inputs": [{"id": "trigger", "property": "id", "value": "trigger"}], "changedPropIds": [], "state": []}
WS_CLIENT = os.path.join(TESTS, "ws_client.py")


@pytest.fixture(scope="session")
def venv_python():
    return plugin_venv_python()


@pytest.fixture(scope="module", params=["flask", "fastapi"])
def gateway(request, venv_python):
    backend = request.param
    command = [venv_python, "plugin_app.py"] if backend == "flask" else [venv_python, "-m", "uvicorn", "plugin_app:server", "--port", "{port}"]
    running = start_dashgate_run(
        command,
        env={**clean_environment(), "DASHGATE_APP_SECRET": SECRET, "PLUGIN_APP_BACKEND": backend},
        cwd=TESTS,
        users=[(["alice", "--name", "Alice A.", "--groups", "analysts,hr"], "alice passphrase 1")],
        # Everything public, so anonymous callbacks reach the app through the gateway.
        config_yaml="access:\n  default: { policy: public }\n",
    )
    running.backend = backend
    yield running
    running.stop()


def who(session, base, headers=None):
    answer = session.post(f"{base}/_dash-update-component", json=WHO, headers=headers or {})
    assert answer.status_code == 200, answer.text
    return json.loads(answer.json()["response"]["who"]["children"])


def test_the_virtualenv_has_no_pyjwt(venv_python):
    # Everything below verifies tokens in this virtualenv: it must really be without PyJWT.
    assert subprocess.run([venv_python, "-c", "import jwt"], capture_output=True).returncode != 0


def test_the_signed_in_user_is_in_custom_data_and_the_helpers(gateway):
    alice = sign_in(gateway.base, "alice", "alice passphrase 1")
    seen = who(alice, gateway.base)
    assert seen["custom_data"] == {"username": "alice", "email": None, "name": "Alice A.", "groups": ["analysts", "hr"]}
    assert seen["username"] == "alice"
    assert seen["groups"] == ["analysts", "hr"]


def test_an_anonymous_request_through_the_gateway_passes_with_nobody_signed_in(gateway):
    seen = who(requests.Session(), gateway.base)
    assert seen == {"custom_data": {}, "username": None, "groups": []}


@pytest.mark.parametrize(
    "method,path,as_json",
    [("GET", "/", False), ("GET", "/any/page", False), ("GET", "/_dash-layout", True), ("POST", "/_dash-update-component", True)],
)
def test_direct_requests_to_the_private_port_are_refused(gateway, method, path, as_json):
    answer = requests.request(method, f"http://127.0.0.1:{gateway.app_port}{path}", json=WHO if method == "POST" else None)
    assert answer.status_code == 403
    if as_json:
        assert answer.json()["error"] == "gateway_required"
    else:
        assert answer.headers["content-type"].startswith("text/plain")
        assert "through its Dashgate gateway" in answer.text


def test_identity_headers_sent_directly_do_not_help(gateway):
    forged = {"X-Forwarded-User": "admin", "X-Forwarded-Groups": "hr", "X-Dashgate-Jwt": "e30.e30.e30"}
    answer = requests.post(f"http://127.0.0.1:{gateway.app_port}/_dash-update-component", json=WHO, headers=forged)
    assert answer.status_code == 403
    assert answer.json()["error"] == "gateway_required"


@pytest.mark.parametrize(
    "token,reason",
    [
        pytest.param(lambda: make_app_token("another-secret-0123456789abcdef-0123"), "bad_signature", id="forged with another secret"),
        pytest.param(lambda: make_app_token(SECRET, exp=1_700_000_000, iat=1_699_999_700), "expired", id="expired"),
        pytest.param(lambda: make_app_token(SECRET, aud="another-app"), "wrong_audience", id="wrong audience"),
        pytest.param(lambda: make_app_token(SECRET, iss="someone-else"), "wrong_issuer", id="wrong issuer"),
        pytest.param(lambda: make_app_token(SECRET, header={"alg": "none", "typ": "JWT"}), "unsupported_alg", id="alg none"),
        pytest.param(lambda: make_app_token(SECRET).rsplit(".", 1)[0] + ".", "malformed", id="alg none style empty signature"),
        pytest.param(lambda: _swap_payload(make_app_token(SECRET), username="admin"), "bad_signature", id="payload changed after signing"),
    ],
)
def test_bad_tokens_sent_directly_are_refused(gateway, token, reason):
    answer = requests.post(f"http://127.0.0.1:{gateway.app_port}/_dash-update-component", json=WHO, headers={"X-Dashgate-App-Token": token()})
    assert answer.status_code == 403
    assert answer.json() == {"error": "invalid_gateway_token", "message": "The Dashgate gateway's token on this request is not valid.", "reason": reason}


def test_a_valid_token_is_believed_even_sent_directly(gateway):
    # The control for the refusals above, and the documented limit: whoever holds a token the
    # gateway signed (or the secret) and can reach the private port is believed until it expires.
    seen = who(requests.Session(), f"http://127.0.0.1:{gateway.app_port}", headers={"X-Dashgate-App-Token": make_app_token(SECRET, username="carol", groups=["x"])})
    assert seen["username"] == "carol"
    assert seen["custom_data"]["groups"] == ["x"]


@pytest.mark.parametrize("gateway", ["fastapi"], indirect=True)  # WebSocket callbacks: FastAPI (and Quart) only
def test_websocket_callbacks_see_the_user_sync_and_async(gateway, venv_python):
    alice = sign_in(gateway.base, "alice", "alice passphrase 1")
    cookie = "; ".join(f"{name}={value}" for name, value in alice.cookies.items())
    answers = _ws_callbacks(venv_python, gateway.base.replace("http", "ws", 1), cookie, gateway.base)
    for output in ("who-ws", "who-ws-async"):
        seen = json.loads(answers[output])
        assert seen["custom_data"] == {"username": "alice", "email": None, "name": "Alice A.", "groups": ["analysts", "hr"]}, output
        assert seen["username"] == "alice", output
    anonymous = _ws_callbacks(venv_python, gateway.base.replace("http", "ws", 1), "", gateway.base)
    assert json.loads(anonymous["who-ws"]) == {"custom_data": {}, "username": None, "groups": []}


@pytest.mark.parametrize("gateway", ["fastapi"], indirect=True)  # WebSocket callbacks: FastAPI (and Quart) only
def test_a_websocket_handshake_to_the_private_port_is_refused(gateway, venv_python):
    direct = f"http://127.0.0.1:{gateway.app_port}"
    assert _ws_callbacks(venv_python, direct.replace("http", "ws", 1), "", direct) == {"refused": 403}


def _ws_callbacks(venv_python, ws_base, cookie, origin):
    done = subprocess.run([venv_python, WS_CLIENT, f"{ws_base}/_dash-ws-callback", cookie, origin], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _swap_payload(token, **claims):
    header, payload, signature = token.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return ".".join([header, b64url(json.dumps({**data, **claims}).encode()), signature])


JWKS_WITHOUT_PYJWT = """
import json, logging
import flask, dashgate
records = []
logging.getLogger("dashgate").addHandler(type("H", (logging.Handler,), {"emit": lambda self, r: records.append((r.levelname, r.getMessage()))})())
codes = []
with flask.Flask("x").test_request_context("/", headers={"X-Dashgate-Jwt": "a.b.c"}):
    for _ in range(2):
        try:
            dashgate.get_username()
            codes.append(None)
        except dashgate.DashgateConfigError as err:
            codes.append(err.code)
print(json.dumps({"codes": codes, "records": records}))
"""


def test_a_jwks_url_without_pyjwt_fails_loudly_once_and_raises_on_every_use(venv_python):
    env = {**clean_environment(), "DASHGATE_APP_JWKS_URL": "http://127.0.0.1:9/_dashgate/.well-known/jwks.json"}
    done = subprocess.run([venv_python, "-c", JWKS_WITHOUT_PYJWT], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["codes"] == ["jwks_needs_pyjwt", "jwks_needs_pyjwt"]
    assert len(result["records"]) == 1 and result["records"][0][0] == "ERROR"
    assert 'pip install "dashgate[jwt]"' in result["records"][0][1]
