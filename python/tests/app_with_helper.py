"""A Dash app that uses the dashgate helper, for python/tests: who am I, a group-protected callback, a logout button."""

import os

from dash import Dash, Input, Output, dcc, html

import dashgate

app = Dash(__name__, serve_locally=True)
server = app.server

app.layout = html.Div(
    [
        dcc.Input(id="trigger", value="go"),
        html.Div(id="who"),
        html.Div(id="groups"),
        html.Div(id="salaries"),
        dashgate.create_logout_button("Sign out", color="white"),
    ]
)


@app.callback(Output("who", "children"), Output("groups", "children"), Input("trigger", "value"))
def show_user(_value):
    data = dashgate.get_user_data()
    verified = "jwt" if os.environ.get("DASHGATE_APP_JWKS_URL") else "headers"
    return f"user={dashgate.get_username()} name={data['name'] if data else None} via={verified}", ",".join(dashgate.get_groups())


@app.callback(Output("salaries", "children"), Input("trigger", "value"))
@dashgate.protected(["hr"], fallback="hidden")
def show_salaries(_value):
    return "salary table"


if __name__ == "__main__":
    app.run(host=os.environ.get("HOST", "127.0.0.1"), port=int(os.environ.get("PORT", "8050")), debug=False)
