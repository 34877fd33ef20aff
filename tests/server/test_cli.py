"""`so8t serve`: refuses bad settings with a clear message, and really serves the real agent on loopback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

import so8t
from so8t.audit import AuditStore
from so8t.cli import app
from tests.server.conftest import TOKEN


def test_serve_refuses_a_weak_or_missing_token_file(tmp_path):
    weak = tmp_path / "token"
    weak.write_text("short\n")
    result = CliRunner().invoke(app, ["serve", "--reviewer-token-file", str(weak), "--db", str(tmp_path / "a.sqlite3")])
    assert result.exit_code == 2 and "has 5 characters; use at least 16" in result.output
    missing = CliRunner().invoke(app, ["serve", "--reviewer-token-file", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "cannot read the reviewer token file" in missing.output


def get(url: str, token: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.mark.slow
def test_serve_runs_the_real_agent_on_loopback(tmp_path, embedded_model_dir):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    token_file = tmp_path / "reviewer-token"
    token_file.write_text(TOKEN + "\n")
    db = tmp_path / "audit.sqlite3"
    env = {**os.environ, "PYTHONPATH": str(Path(so8t.__file__).parents[1])}
    command = [sys.executable, "-m", "so8t", "serve", "--port", str(port), "--db", str(db),
               "--reviewer-token-file", str(token_file), "--log-level", "warning"]
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 240  # loading the model takes a while on two busy cores
        while True:
            assert server.poll() is None, f"so8t serve exited: {server.stdout.read()}"
            try:
                status, body = get(base + "/healthz")
                break
            except OSError:
                assert time.monotonic() < deadline, "so8t serve did not answer within 240 s"
                time.sleep(0.5)
        assert status == 200 and json.loads(body)["status"] == "ok"
        assert get(base + "/")[0] == 200
        assert get(base + "/v1/review")[0] == 401
        status, body = get(base + "/v1/review", TOKEN)
        assert status == 200 and json.loads(body)["decisions"] == []
        assert json.loads(get(base + "/v1/policy")[1])["name"] == "so8t-default"  # the agent applied its policy
    finally:
        server.terminate()
        server.wait(timeout=30)
    with AuditStore(db, create=False) as store:
        assert store.identity().fingerprint["so8t_version"] == so8t.__version__
