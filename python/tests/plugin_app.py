"""A Dash app that never imports dashgate's plugin, for python/tests/test_dash_plugin.py.

The plugin must arrive through the ``dash_hooks`` entry point alone. The backend comes from
PLUGIN_APP_BACKEND (flask or fastapi); on FastAPI two callbacks also run over the WebSocket, one
sync (run on Dash's worker threads) and one async (run on the connection's event loop).
"""

import json
import os

from dash import Dash, Input, Output, ctx, html

import dashgate

BACKEND = os.environ.get("PLUGIN_APP_BACKEND", "flask")
app = Dash(__name__, backend=BACKEND, serve_locally=True)
server = app.server

app.layout = html.Div([html.Div(id="trigger"), html.Div(id="who"), html.Div(id="who-ws"), html.Div(id="who-ws-async")])


def describe():
    """What the callback sees of the caller: the plugin's custom_data and the helper's answers."""
    user = ctx.custom_data.get("dashgate", "plugin not loaded")
    return json.dumps({"custom_data": dict(user) if hasattr(user, "keys") else user, "username": dashgate.get_username(), "groups": dashgate.get_groups()})


@app.callback(Output("who", "children"), Input("trigger", "id"))
def who(_):
    return describe()


if BACKEND == "fastapi":

    @app.callback(Output("who-ws", "children"), Input("trigger", "id"), websocket=True)
    def who_ws(_):
        return describe()

    @app.callback(Output("who-ws-async", "children"), Input("trigger", "id"), websocket=True)
    async def who_ws_async(_):
        return describe()


if __name__ == "__main__":
    app.run(host=os.environ.get("HOST", "127.0.0.1"), port=int(os.environ.get("PORT", "8050")), debug=False)
