"""Runs plugin_app.py's two WebSocket callbacks as Dash's renderer would; run inside the plugin's virtualenv (it has websockets).

Usage: ws_client.py <ws url> <cookie header or ""> <origin>. Prints {"who-ws": …, "who-ws-async": …},
or {"refused": <HTTP status>} when the handshake is refused.
"""

import json
import sys

from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

OUTPUTS = ["who-ws", "who-ws-async"]


def main(url: str, cookie: str, origin: str) -> dict:
    headers = {"Origin": origin, **({"Cookie": cookie} if cookie else {})}
    try:
        with connect(url, additional_headers=headers, open_timeout=10) as ws:
            for number, output in enumerate(OUTPUTS):
                payload = {"output": f"{output}.children", "outputs": {"id": output, "property": "children"}, "inputs": [{"id": "trigger", "property": "id", "value": "trigger"}], "changedPropIds": [], "state": []}
                ws.send(json.dumps({"type": "callback_request", "rendererId": "pytest", "requestId": f"pytest-{number}", "payload": payload}))
            answers = {}
            while len(answers) < len(OUTPUTS):
                frame = json.loads(ws.recv(timeout=20))
                for message in frame if isinstance(frame, list) else [frame]:  # Dash batches messages into arrays
                    if message.get("type") == "callback_response":
                        output = OUTPUTS[int(message["requestId"].rsplit("-", 1)[1])]
                        assert message["payload"]["status"] == "ok", message
                        answers[output] = message["payload"]["data"]["response"][output]["children"]
            return answers
    except InvalidStatus as err:
        return {"refused": err.response.status_code}


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:4])))
