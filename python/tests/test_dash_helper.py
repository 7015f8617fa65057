"""The dashgate helper inside a real Dash app, behind the real gateway started by `dashgate run`."""

import json
import os
import re
import sys

import pytest

from support import ROOT, clean_environment, sign_in, start_dashgate_run

APP = os.path.join(os.path.dirname(__file__), "app_with_helper.py")


@pytest.fixture(scope="module")
def gateway():
    # The checkout on PYTHONPATH, imported by the app, in this (main) venv where PyJWT is installed.
    running = start_dashgate_run(
        [sys.executable, APP],
        env={**clean_environment(), "PYTHONPATH": os.path.join(ROOT, "python")},
        cwd=ROOT,
        users=[(["alice", "--name", "Alice A.", "--groups", "analysts,hr"], "alice passphrase 1"), (["bob", "--groups", "analysts"], "bob passphrase 12")],
    )
    yield running.base
    running.stop()


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
    # `dashgate run` configured the helper (via=jwt: the app saw DASHGATE_APP_JWKS_URL; it also got
    # DASHGATE_APP_SECRET, so the app token is what is verified): a forged header cannot get through
    # anyway (the gateway strips it), and the helper only believes a signed token.
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
