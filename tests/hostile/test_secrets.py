"""Secrets (issue 17): a server that echoes the request's Authorization header, path and query back in its error
body never gets the key (or a --base-url's password or key parameter) onto stderr or into any file. Elsewhere:
profile through such a server (stderr, failures.parquet, the SQLite store, the manifest) in
tests/profile/test_profile_secrets.py; the scrubbing rules in tests/test_redact.py."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from hostile_checks import one_line_error, write_profile_tables

sys.path.insert(0, str(Path(__file__).parents[1] / "profile"))

from loopback import LoopbackLLM  # noqa: E402

KEY = "sk-hostile-echoed-key-9876543210"
PASSWORD = "hostile-url-password-1234"
QUERY_KEY = "hostile-query-key-abcdef"
SECRETS = (KEY, PASSWORD, QUERY_KEY)


class Echoing(LoopbackLLM):
    """Every request answered 400 with a body quoting the bare key, the path with its query, and all headers."""

    def start(self) -> str:
        url = super().start()
        self.server.handle_error = lambda request, address: None  # a client leaving early is no news here
        return url

    def handle(self, path, body, headers):
        with self.lock:
            self.requests.append({"path": path, "auth": headers.get("Authorization")})
        token = headers.get("Authorization", "").partition(" ")[2]
        echo = {"error": {"message": f"bad request from {token}", "path": path, "headers": headers}}
        return 400, {"Content-Type": "application/json"}, json.dumps(echo).encode()


class Answering(LoopbackLLM):
    """Answers as the loopback does, whatever query the URL carries."""

    def handle(self, path, body, headers):
        return super().handle(path.partition("?")[0], body, headers)


def assert_nowhere(tmp_path: Path, *texts: str) -> None:
    for text in texts:
        assert not any(secret in text for secret in SECRETS), text
    for file in tmp_path.rglob("*"):
        if file.is_file():
            data = file.read_bytes()
            assert not any(secret.encode() in data for secret in SECRETS), file


@pytest.fixture
def profiled(cli, work, tmp_path) -> Path:
    """profiles/demo/imported, made with `profile --import` from plain Parquet tables."""
    assert cli("profile", "-d", "demo", "--import", write_profile_tables(tmp_path / "profiles-src")).code == 0
    return work


def embed(cli, url: str):
    return cli("embed", "-d", "demo", "--profiles", "imported", "--encoder", "openai", "--base-url", url, "--model",
               "echo", "--api-key-env", "HOSTILE_KEY", "--batch-size", "256")  # fmt: skip


def test_embed_through_a_server_that_echoes_the_key(cli, profiled, tmp_path, monkeypatch):
    monkeypatch.setenv("HOSTILE_KEY", KEY)
    with Echoing() as server:
        result = embed(cli, server.url + f"?api_key={QUERY_KEY}")
        assert server.requests and server.requests[0]["auth"] == f"Bearer {KEY}"  # the key was sent...
    one_line_error(result, "HTTP 400", "***")
    assert_nowhere(tmp_path, result.out, result.err)  # ...and quoted back, but never shown or stored


def test_embed_with_credentials_in_the_url_records_none(cli, profiled, tmp_path, monkeypatch):
    monkeypatch.setenv("HOSTILE_KEY", KEY)
    with Answering(dim=8) as server:
        url = server.url.replace("http://", f"http://bob:{PASSWORD}@") + f"?api_key={QUERY_KEY}"
        result = embed(cli, url)
        again = embed(cli, url)
    assert result.code == 0, result.err
    assert again.code == 0 and "up to date" in again.out  # recorded without credentials, still the same config
    manifest = json.loads((profiled / "embeddings" / "demo" / "echo" / "manifest.json").read_text())
    assert manifest["config"]["base_url"] == server.url.replace("http://", "http://***@") + "?api_key=***"
    assert_nowhere(tmp_path, result.out, result.err, again.out)
