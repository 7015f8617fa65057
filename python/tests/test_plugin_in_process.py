"""The plugin's hooks in Dash apps built in this process (Flask backend, Flask's test client): what is refused, what the callbacks see, how configuration problems show."""

import json
import logging

import flask
import pytest
from dash import Dash, Input, Output, ctx, html

import dashgate
import dashgate._plugin as plugin  # registers the hooks, as Dash's entry-point loading does
from dashgate import _settings
from dashgate._current import RequestIdentity, asgi_request_identity
from dashgate._identity import Identity
from support import make_app_token

SECRET = "in-process-secret-0123456789abcdef-012"
WHO = {"output": "who.children", "outputs": {"id": "who", "property": "children"}, "inputs": [{"id": "trigger", "property": "id", "value": "trigger"}], "changedPropIds": [], "state": []}
QUIET = dict(WHO, output="quiet.children", outputs={"id": "quiet", "property": "children"})


@pytest.fixture
def settings(monkeypatch):
    """Set the helper's settings for one test (and forget which problems were already logged)."""
    monkeypatch.setattr(_settings, "_reported", set())

    def use(**values):
        monkeypatch.setattr(_settings, "_current", _settings.Settings(**values))

    use()
    return use


def make_app(**dash_kwargs):
    app = Dash(__name__, **dash_kwargs)
    app.layout = html.Div([html.Div(id="trigger"), html.Div(id="who"), html.Div(id="quiet")])

    @app.callback(Output("who", "children"), Input("trigger", "id"))
    def who(_):
        return json.dumps({"custom_data": dict(ctx.custom_data["dashgate"]), "username": dashgate.get_username()})

    @app.callback(Output("quiet", "children"), Input("trigger", "id"))
    def quiet(_):
        return "does not ask who is calling"

    return app


def call(client, body=WHO, **headers):
    answer = client.post("/_dash-update-component", json=body, headers=headers)
    return answer.status_code, answer.get_json()


def seen(client, **headers):
    status, body = call(client, **headers)
    assert status == 200, body
    return json.loads(body["response"]["who"]["children"])


def test_required_gateway_refuses_requests_without_the_token(settings):
    settings(app_secret=SECRET, require_gateway=True)
    client = make_app().server.test_client()
    page = client.get("/")
    assert page.status_code == 403 and page.mimetype == "text/plain"
    assert call(client) == (403, {"error": "gateway_required", "message": "This app only answers requests that come through its Dashgate gateway."})
    assert client.get("/_dash-component-suites/dash/dash-renderer/build/dash_renderer.min.js").status_code == 403


def test_required_gateway_serves_the_tokens_user_into_custom_data(settings):
    settings(app_secret=SECRET, require_gateway=True)
    client = make_app().server.test_client()
    assert seen(client, **{"X-Dashgate-App-Token": make_app_token(SECRET)}) == {
        "custom_data": {"username": "alice", "email": "alice@example.com", "name": "Alice", "groups": ["hr"]},
        "username": "alice",
    }
    anonymous = make_app_token(SECRET, sub=None, username=None, email=None, name=None, groups=None, amr=None)
    assert seen(client, **{"X-Dashgate-App-Token": anonymous}) == {"custom_data": {}, "username": None}


def test_the_guard_follows_the_server_given_to_init_app(settings):
    # Dash(server=False) + app.init_app(server): the app-factory pattern.
    settings(app_secret=SECRET, require_gateway=True)
    app = make_app(server=False)
    server = flask.Flask("factory")
    app.init_app(server)
    assert server.test_client().get("/").status_code == 403
    assert seen(server.test_client(), **{"X-Dashgate-App-Token": make_app_token(SECRET)})["username"] == "alice"


def test_with_a_secret_but_not_required_direct_requests_pass_and_forged_headers_are_ignored(settings):
    settings(app_secret=SECRET)
    client = make_app().server.test_client()
    assert client.get("/").status_code == 200
    assert seen(client, **{"X-Forwarded-User": "admin"}) == {"custom_data": {}, "username": None}
    assert seen(client, **{"X-Dashgate-App-Token": make_app_token(SECRET, exp=1)}) == {"custom_data": {}, "username": None}


def test_with_nothing_configured_the_plain_headers_are_read(settings):
    client = make_app().server.test_client()
    assert client.get("/").status_code == 200
    assert seen(client, **{"X-Forwarded-User": "bob", "X-Forwarded-Groups": "a,b"})["custom_data"] == {"username": "bob", "email": None, "name": "bob", "groups": ["a", "b"]}


def test_a_short_secret_refuses_everything_when_required_and_is_logged_once(settings, caplog):
    settings(app_secret="too short", require_gateway=True)
    client = make_app().server.test_client()
    with caplog.at_level(logging.ERROR, logger="dashgate"):
        for _ in range(2):
            status, body = call(client, **{"X-Dashgate-App-Token": make_app_token("too short")})
            assert status == 500
            assert body["error"] == "dashgate_misconfigured" and body["reason"] == "secret_too_short"
    assert [record.getMessage() for record in caplog.records].count(caplog.records[0].getMessage()) == 1
    assert "at least 32 characters" in caplog.records[0].getMessage()


def test_a_short_secret_raises_on_use_instead_of_answering_nobody(settings):
    settings(app_secret="too short")
    client = make_app().server.test_client()
    assert call(client, QUIET)[0] == 200  # callbacks that do not ask keep working
    with make_app().server.test_request_context("/", headers={"X-Dashgate-App-Token": make_app_token("too short")}):
        with pytest.raises(dashgate.DashgateConfigError) as raised:
            dashgate.get_username()
        assert raised.value.code == "secret_too_short"
        with pytest.raises(dashgate.DashgateConfigError):
            dashgate.check_groups(["hr"])


def test_required_gateway_without_a_secret_is_a_configuration_error(settings):
    settings(require_gateway=True, jwks_url="http://127.0.0.1:9/jwks.json")
    status, body = call(make_app().server.test_client())
    assert (status, body["reason"]) == (500, "require_gateway_without_secret")


def test_the_app_token_wins_over_the_jwks_and_the_headers(settings):
    settings(app_secret=SECRET, jwks_url="http://127.0.0.1:9/never-fetched.json")
    client = make_app().server.test_client()
    headers = {"X-Dashgate-App-Token": make_app_token(SECRET, username="carol"), "X-Dashgate-Jwt": "not.a.jwt", "X-Forwarded-User": "admin"}
    assert seen(client, **headers)["username"] == "carol"


@pytest.mark.parametrize("value,required", [("1", True), ("true", True), ("yes please", True), ("0", False), ("false", False), ("Off", False), ("", False)])
def test_require_gateway_is_on_for_anything_but_an_explicit_off(value, required):
    assert _settings.settings_from_environment({"DASHGATE_APP_REQUIRE_GATEWAY": value}).require_gateway is required


def test_websocket_messages_are_refused_on_a_connection_that_was_not_admitted(settings):
    settings(app_secret=SECRET, require_gateway=True)
    assert plugin.recheck_websocket_message(None, {"type": "heartbeat"}) == (4003, "gateway_required")
    not_admitted = asgi_request_identity.set(RequestIdentity({}, None))
    try:
        assert plugin.recheck_websocket_message(None, {"type": "callback_request"}) == (4003, "gateway_required")
    finally:
        asgi_request_identity.reset(not_admitted)
    admitted = asgi_request_identity.set(RequestIdentity({}, Identity({"username": "alice", "email": None, "name": "alice", "groups": []}, "app_token", True)))
    try:
        assert plugin.recheck_websocket_message(None, {"type": "callback_request"}) is True
    finally:
        asgi_request_identity.reset(admitted)
    settings(app_secret=SECRET)
    assert plugin.recheck_websocket_message(None, {"type": "heartbeat"}) is True


def test_custom_data_read_where_the_hook_could_not_see_the_request_is_read_on_use(settings):
    # Dash runs custom_data hooks for sync WebSocket callbacks on a worker thread outside the connection's context.
    settings(app_secret=SECRET)
    deferred = plugin.user_for_callback({})
    assert isinstance(deferred, plugin.CallbackUser) and not deferred
    with make_app().server.test_request_context("/", headers={"X-Dashgate-App-Token": make_app_token(SECRET)}):
        assert deferred["username"] == "alice"
        assert dict(deferred)["groups"] == ["hr"]
