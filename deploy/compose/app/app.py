"""The example Dash app of deploy/compose.yaml: it says who is signed in, shows a table only to
the "finance" group, and has a logout button, all through the dashgate helper package.

The app itself has no login code. With DASHGATE_APP_SECRET and DASHGATE_APP_REQUIRE_GATEWAY set
(compose.yaml does), the helper's Dash plugin refuses any request that did not come through the
gateway, so reaching this container's port directly gets nobody in.
"""

import os

from dash import Dash, Input, Output, dcc, html

import dashgate

app = Dash(__name__, title="Example dashboard", serve_locally=True)
server = app.server

app.layout = html.Main(
    [
        html.H1("Example dashboard"),
        html.P(id="whoami"),
        dcc.Dropdown(["Q1", "Q2", "Q3", "Q4"], "Q1", id="quarter", clearable=False),
        html.Div(id="figures"),
        dashgate.create_logout_button("Sign out"),
    ]
)


@app.callback(Output("whoami", "children"), Input("quarter", "value"))
def show_user(_quarter):
    user = dashgate.get_user_data()
    if user is None:
        return "Nobody is signed in."
    groups = ", ".join(user["groups"]) or "no groups"
    return f"Signed in as {user['name']} ({user['username']}; {groups})."


@app.callback(Output("figures", "children"), Input("quarter", "value"))
@dashgate.protected(["finance"], fallback=html.P("The figures are for the finance group."))
def show_figures(quarter):
    revenue = {"Q1": 120, "Q2": 135, "Q3": 128, "Q4": 160}[quarter]
    return html.Table([html.Tr([html.Th("Quarter"), html.Th("Revenue (k€)")]), html.Tr([html.Td(quarter), html.Td(str(revenue))])])


if __name__ == "__main__":
    app.run(host=os.environ.get("HOST", "127.0.0.1"), port=int(os.environ.get("PORT", "8050")), debug=False)
