"""The dashgate helper inside a real Dash app, behind the real gateway started by `dashgate run`."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest
import requests

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
APP = os.path.join(os.path.dirname(__file__), "app_with_helper.py")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dashgate_cli(*args, input_text=None, env=None):
    return subprocess.run(["node", os.path.join(ROOT, "bin", "dashgate.js"), *args], input=input_text, capture_output=True, text=True, env=env, check=True)


@pytest.fixture(scope="module")
def gateway():
    data_dir = tempfile.mkdtemp(prefix="dashgate-pytest-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASHGATE_")}
    dashgate_cli("users", "add", "alice", "--name", "Alice A.", "--groups", "analysts,hr", "--password-stdin", "--data-dir", data_dir, input_text="alice passphrase 1", env=env)
    dashgate_cli("users", "add", "bob", "--groups", "analysts", "--password-stdin", "--data-dir", data_dir, input_text="bob passphrase 12", env=env)
    port = free_port()
    process = subprocess.Popen(
        ["node", os.path.join(ROOT, "bin", "dashgate.js"), "run", "--port", str(port), "--data-dir", data_dir, "--", sys.executable, APP],
        env={**env, "PYTHONPATH": os.path.join(ROOT, "python")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            if requests.get(f"{base}/_dashgate/health", timeout=2).ok:
                break
        except requests.RequestException:
            time.sleep(0.2)
    else:
        os.killpg(process.pid, signal.SIGKILL)
        raise RuntimeError("the gateway did not start")
    yield base
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)
    shutil.rmtree(data_dir, ignore_errors=True)


def sign_in(base, username, password):
    session = requests.Session()
    page = session.get(f"{base}/_dashgate/login").text
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page))
    answer = session.post(f"{base}/_dashgate/login", data={**fields, "username": username, "password": password}, allow_redirects=False)
    assert answer.status_code == 303
    return session


def callback(session, base, outputs):
    body = {
        "output": outputs if "." in outputs and not outputs.startswith("..") else outputs,
        "outputs": [{"id": o.split(".")[0], "property": o.split(".")[1]} for o in outputs.strip(".").split("...")],
        "inputs": [{"id": "trigger", "property": "value", "value": "go"}],
        "changedPropIds": ["trigger.value"],
        "state": [],
    }
    if len(body["outputs"]) == 1:
        body["outputs"] = body["outputs"][0]
    answer = session.post(f"{base}/_dash-update-component", json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()["response"]


def test_username_name_and_groups_inside_a_callback(gateway):
    alice = sign_in(gateway, "alice", "alice passphrase 1")
    response = callback(alice, gateway, "..who.children...groups.children..")
    assert response["who"]["children"] == "user=alice name=Alice A. via=jwt"
    assert response["groups"]["children"] == "analysts,hr"


def test_protected_callback_runs_for_the_group_and_returns_the_fallback_otherwise(gateway):
    alice = sign_in(gateway, "alice", "alice passphrase 1")
    assert callback(alice, gateway, "salaries.children")["salaries"]["children"] == "salary table"
    bob = sign_in(gateway, "bob", "bob passphrase 12")
    assert callback(bob, gateway, "salaries.children")["salaries"]["children"] == "hidden"


def test_identity_is_read_from_the_verified_jwt_set_up_by_dashgate_run(gateway):
    # `dashgate run` gave the app DASHGATE_APP_JWKS_URL: a forged header cannot get through anyway
    # (the gateway strips it), and the helper only believes the signed token.
    bob = sign_in(gateway, "bob", "bob passphrase 12")
    response = callback(bob, gateway, "..who.children...groups.children..")
    assert response["who"]["children"] == "user=bob name=bob via=jwt"


def test_logout_button_signs_out_through_the_gateway(gateway):
    alice = sign_in(gateway, "alice", "alice passphrase 1")
    layout = json.dumps(alice.get(f"{gateway}/_dash-layout").json())
    assert '"data-dashgate-logout": "true"' in layout
    assert '"action": "/_dashgate/logout"' in layout
    # Without the page helper the form goes to the confirm page, which signs out on POST.
    confirm = alice.get(f"{gateway}/_dashgate/logout").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', confirm).group(1)
    out = alice.post(f"{gateway}/_dashgate/logout", data={"csrf": csrf}, allow_redirects=False)
    assert out.status_code == 303
    assert alice.post(f"{gateway}/_dash-update-component", json={}).status_code == 401
