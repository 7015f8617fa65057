"""Shared by the pytest files: the real gateway's CLI, signing in, a virtualenv with the package pip-installed, and crafted tokens."""

from __future__ import annotations

import base64
import fcntl
import hashlib
import hmac
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
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

import pytest
import requests

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TESTS = os.path.dirname(os.path.abspath(__file__))
DASHGATE = os.path.join(ROOT, "bin", "dashgate.js")

#: What the plugin's virtualenv holds besides ./python: no PyJWT, so everything it verifies, it verifies without it.
PLUGIN_VENV_REQUIREMENTS = ["dash==4.4.1", "fastapi", "uvicorn", "websockets"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_environment() -> Dict[str, str]:
    """This process's environment without anything that would configure the gateway or the helper."""
    return {k: v for k, v in os.environ.items() if not k.startswith("DASHGATE_") and k != "PYTHONPATH"}


def dashgate_cli(*args: str, input_text: Optional[str] = None, env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess:
    return subprocess.run(["node", DASHGATE, *args], input=input_text, capture_output=True, text=True, env=env, check=True)


def sign_in(base: str, username: str, password: str) -> requests.Session:
    session = requests.Session()
    page = session.get(f"{base}/_dashgate/login").text
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page))
    answer = session.post(f"{base}/_dashgate/login", data={**fields, "username": username, "password": password}, allow_redirects=False)
    assert answer.status_code == 303
    return session


@dataclass
class RunningGateway:
    base: str
    app_port: int
    process: subprocess.Popen
    data_dir: str
    log_path: str

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
        shutil.rmtree(self.data_dir, ignore_errors=True)


def start_dashgate_run(command: List[str], *, env: Dict[str, str], cwd: str, users: List[Tuple[List[str], str]], config_yaml: str = "") -> RunningGateway:
    """`dashgate run --port <free> -- command` with these users (``dashgate users add`` arguments, password);
    returns once the gateway answers, with the app's private port."""
    data_dir = tempfile.mkdtemp(prefix="dashgate-pytest-")
    for user_args, password in users:
        dashgate_cli("users", "add", *user_args, "--password-stdin", "--data-dir", data_dir, input_text=password, env=clean_environment())
    args = ["run", "--port", str(free_port()), "--data-dir", data_dir]
    if config_yaml:
        config_path = os.path.join(data_dir, "dashgate.yaml")
        with open(config_path, "w") as config_file:
            config_file.write(config_yaml)
        args += ["--config", config_path]
    log_path = os.path.join(data_dir, "run.log")
    with open(log_path, "w") as log:
        process = subprocess.Popen(["node", DASHGATE, *args, "--", *command], env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{args[2]}"
    deadline = time.time() + 90
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"dashgate run exited: {open(log_path).read()[-3000:]}")
        try:
            if requests.get(f"{base}/_dashgate/health", timeout=2).ok:
                return RunningGateway(base, _app_port(log_path), process, data_dir, log_path)
        except requests.RequestException:
            time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    raise RuntimeError(f"the gateway did not start: {open(log_path).read()[-3000:]}")


def _app_port(log_path: str) -> int:
    """The app's private port, from the gateway's "starting the app" log line."""
    for line in open(log_path):
        if line.startswith("{") and '"starting the app"' in line:
            return int(json.loads(line)["port"])
    raise AssertionError("no 'starting the app' line in the gateway's log")


def plugin_venv_python() -> str:
    """A virtualenv with Dash 4.4.1, FastAPI, uvicorn and this checkout's package pip-installed, without PyJWT.

    Built once under the temp directory (about 30 s) and reused while its requirements stay the same;
    the package itself is reinstalled every session so the tests see this checkout.
    """
    key = hashlib.sha256(json.dumps([sys.version, PLUGIN_VENV_REQUIREMENTS]).encode()).hexdigest()[:12]
    venv = os.path.join(tempfile.gettempdir(), f"dashgate-pytest-venv-{key}")
    python = os.path.join(venv, "bin", "python")
    with open(venv + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test runs at once must not build one venv twice
        if not os.path.exists(os.path.join(venv, "ready")):
            shutil.rmtree(venv, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", venv], check=True)
            _pip(python, *PLUGIN_VENV_REQUIREMENTS)
            open(os.path.join(venv, "ready"), "w").close()
        _pip(python, "--no-deps", "--force-reinstall", os.path.join(ROOT, "python"))
    return python


def _pip(python: str, *args: str) -> None:
    # --retries 0: only the machine's configured local index answers; don't wait on others.
    done = subprocess.run([python, "-m", "pip", "install", "--retries", "0", "--quiet", "--disable-pip-version-check", *args], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"pip could not install {' '.join(args)} into the plugin's virtualenv: {done.stderr.strip()[-500:]}")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def make_app_token(secret: str, header: Optional[Dict[str, Any]] = None, **claims: Any) -> str:
    """An HS256 token as the gateway makes it (src/auth/app-token.ts), with ``claims`` overriding a signed-in alice."""
    now = int(time.time())
    payload = {"iss": "dashgate", "aud": "dash-app", "iat": now, "exp": now + 300, "sub": "u-alice", "username": "alice", "email": "alice@example.com", "name": "Alice", "groups": ["hr"], "amr": ["pwd"], **claims}
    payload = {k: v for k, v in payload.items() if v is not None}
    signing_input = b64url(json.dumps(header or {"alg": "HS256", "typ": "JWT"}).encode()) + "." + b64url(json.dumps(payload).encode())
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64url(signature)
